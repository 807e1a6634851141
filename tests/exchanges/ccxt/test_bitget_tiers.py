"""Bitget's maintenance margin rate: read from the position tier table per symbol, once, never guessed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from riskmgr.core.errors import ExchangeError, InvalidOrderError, MalformedResponseError, TemporaryError
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import BITGET, KEY, PASSPHRASE, SECRET, calls_to, query, route

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
TIERS_PATH = "/api/v2/mix/market/query-position-lever"
TIERS = f"{BITGET}{TIERS_PATH}"


def tiers(symbol: str, *rows: tuple[str, str, str, str]) -> dict:
    """Return a query-position-lever reply shaped as documented (level, startUnit, endUnit, keepMarginRate)."""
    return {
        "code": "00000", "msg": "success", "requestTime": 1695796884470,
        "data": [
            {"symbol": symbol, "level": level, "startUnit": start, "endUnit": end, "leverage": "100",
             "keepMarginRate": rate}
            for level, start, end, rate in rows
        ],
    }


# the documented example (Get-Query-Position-Lever), listed highest tier first to show order does not matter
BTC_TIERS = tiers("BTCUSDT", ("2", "50000", "200000", "0.005"), ("1", "0", "50000", "0.004"))
ETH_TIERS = tiers("ETHUSDT", ("1", "0", "100000", "0.0065"))


@pytest.fixture
def adapter(bitget_markets: list[dict]) -> BitgetAdapter:
    """A fresh adapter per test: each starts with nothing cached."""
    fresh = BitgetAdapter("bg-tiers", KEY, SECRET, PASSPHRASE, markets=bitget_markets)
    fresh.client.enableRateLimit = False
    return fresh


def test_fetch_markets_reads_no_tiers_and_leaves_the_rate_unknown(http, adapter):
    specs = adapter.fetch_markets()

    assert {specs[BTC].maintenance_margin_rate, specs[ETH].maintenance_margin_rate} == {None}
    assert len(http.calls) == 0


def test_the_rate_is_the_keep_margin_rate_of_the_tier_starting_at_zero(http, adapter):
    route(http, "GET", TIERS, BTC_TIERS)

    rate = adapter.fetch_maintenance_margin_rate(BTC)

    assert rate == Decimal("0.004")
    [sent] = calls_to(http, TIERS_PATH, "GET")
    assert query(sent) == {"symbol": "BTCUSDT", "productType": "USDT-FUTURES"}


def test_each_symbol_is_read_once_and_then_kept(http, adapter):
    by_symbol = {"BTCUSDT": BTC_TIERS, "ETHUSDT": ETH_TIERS}
    http.add_callback("GET", TIERS, callback=lambda request: (200, {}, json.dumps(by_symbol[query(request)["symbol"]])))

    rates = [adapter.fetch_maintenance_margin_rate(s) for s in (BTC, ETH, BTC, ETH, BTC)]

    assert rates == [Decimal("0.004"), Decimal("0.0065"), Decimal("0.004"), Decimal("0.0065"), Decimal("0.004")]
    assert [query(c)["symbol"] for c in calls_to(http, TIERS_PATH)] == ["BTCUSDT", "ETHUSDT"]


def test_a_failed_read_raises_our_error_and_keeps_nothing(http, adapter):
    answers = iter([(503, {}, "Service Unavailable"), (200, {}, json.dumps(BTC_TIERS))])
    http.add_callback("GET", TIERS, callback=lambda _request: next(answers))

    with pytest.raises(TemporaryError) as caught:
        adapter.fetch_maintenance_margin_rate(BTC)

    assert (caught.value.account, caught.value.operation) == ("bg-tiers", "fetch_maintenance_margin_rate")
    assert adapter.fetch_maintenance_margin_rate(BTC) == Decimal("0.004")
    assert len(calls_to(http, TIERS_PATH)) == 2


def test_an_error_code_from_the_exchange_is_our_error_not_a_rate(http, adapter):
    route(http, "GET", TIERS, {"code": "40034", "msg": "Parameter symbol does not exist", "data": None}, status=400)

    with pytest.raises(ExchangeError) as caught:
        adapter.fetch_maintenance_margin_rate(BTC)

    assert caught.value.code == "40034"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (tiers("BTCUSDT"), "no position tiers"),
        ({"code": "00000", "msg": "success", "data": None}, "field 'data' is not a list of objects"),
        (tiers("BTCUSDT", ("1", "0", "50000", "")), "field 'keepMarginRate' is missing or empty"),
        (tiers("BTCUSDT", ("1", "0", "50000", "0")), "rate 0 is not between 0 and 1"),
        (tiers("BTCUSDT", ("1", "0", "50000", "1.2")), "rate 1.2 is not between 0 and 1"),
        (tiers("ETHUSDT", ("1", "0", "50000", "0.004")), "the reply lists tiers of ETHUSDT"),
    ],
)
def test_a_reply_that_gives_no_clear_first_tier_rate_is_malformed(http, adapter, reply, message):
    route(http, "GET", TIERS, reply)

    with pytest.raises(MalformedResponseError, match=message):
        adapter.fetch_maintenance_margin_rate(BTC)


def test_a_symbol_outside_the_markets_is_refused_before_any_request(http, adapter):
    with pytest.raises(InvalidOrderError, match="DOGE/USDT:USDT"):
        adapter.fetch_maintenance_margin_rate("DOGE/USDT:USDT")

    assert len(http.calls) == 0
