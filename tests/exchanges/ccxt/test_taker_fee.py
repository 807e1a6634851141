"""The venue's taker fee from ccxt's markets feeds the trading costs; without one the limits' estimate is used."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.core.errors import MalformedResponseError
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.costs import ESTIMATE_SLIPPAGE_SOURCE, trading_costs
from tests.exchanges.ccxt.helpers import KEY, SECRET
from tests.risk.builders import BTC

D = Decimal


def test_ccxt_markets_carry_each_venues_taker_fee(binance_adapter, bitget_adapter):
    assert binance_adapter.taker_fee_rate(BTC.symbol) == D("0.0005")
    assert bitget_adapter.taker_fee_rate(BTC.symbol) == D("0.0006")


def test_a_live_venues_costs_take_its_taker_fee_and_estimate_the_slippage(binance_adapter):
    costs = trading_costs(binance_adapter, BTC, RiskLimits())

    assert (costs.taker_fee_rate, costs.fee_source) == (D("0.0005"), "binanceusdm market taker fee (ccxt)")
    assert (costs.slippage_rate, costs.slippage_source) == (D("0.0005"), ESTIMATE_SLIPPAGE_SOURCE)


def test_a_zero_taker_fee_is_kept_not_replaced_by_the_estimate(binance_markets):
    # (ccxt fills in its own default where a market names none, so a missing fee does not reach the adapter)
    markets = [dict(m) | {"taker": 0} for m in binance_markets]
    adapter = BinanceUsdmAdapter("no-fee", KEY, SECRET, markets=markets)

    assert adapter.taker_fee_rate(BTC.symbol) == D(0)
    assert trading_costs(adapter, BTC, RiskLimits()).fee_source == "binanceusdm market taker fee (ccxt)"


def test_a_taker_fee_that_is_not_a_number_is_a_malformed_reply(binance_markets):
    markets = [dict(m) | {"taker": "n/a"} for m in binance_markets]
    adapter = BinanceUsdmAdapter("bad-fee", KEY, SECRET, markets=markets)

    with pytest.raises(MalformedResponseError, match="taker"):
        adapter.taker_fee_rate(BTC.symbol)
