"""Bitunix's maintenance margin rate: trading_pairs has none, so it comes from the symbol's position tiers."""

from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from riskmgr.core.errors import MalformedResponseError, RateLimitError, ValidationError
from tests.exchanges.bitunix.conftest import BASE, ok, reply

TIERS = f"{BASE}/api/v1/futures/position/get_position_tiers"
PAIRS = f"{BASE}/api/v1/futures/market/trading_pairs"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def tiers(symbol: str, *rows: tuple[int, str, str, str]) -> dict:
    """Return a get_position_tiers reply shaped like the official SDK's PositionTiersResp list."""
    return ok([
        {"symbol": symbol, "level": level, "startValue": start, "endValue": end, "leverage": 50,
         "maintenanceMarginRate": rate}
        for level, start, end, rate in rows
    ])


def _symbol(native: str):
    return responses.matchers.query_param_matcher({"symbol": native})


BTC_TIERS = tiers("BTCUSDT", (2, "50000", "250000", "0.01"), (1, "0", "50000", "0.004"))


def _symbols_asked(api) -> list[str]:
    return [parse_qs(urlparse(c.request.url).query)["symbol"][0] for c in api.calls if c.request.url.startswith(TIERS)]


def test_fetch_markets_leaves_the_rate_unknown_without_reading_tiers(api, adapter):
    api.get(PAIRS, json=reply("trading_pairs"))

    specs = adapter.fetch_markets()

    assert specs and {spec.maintenance_margin_rate for spec in specs.values()} == {None}
    assert _symbols_asked(api) == []


def test_the_rate_is_the_first_tiers_and_each_symbol_is_read_once(api, adapter):
    api.get(TIERS, json=BTC_TIERS, match=[_symbol("BTCUSDT")])
    api.get(TIERS, json=tiers("ETHUSDT", (1, "0", "30000", "0.005")), match=[_symbol("ETHUSDT")])

    rates = [adapter.fetch_maintenance_margin_rate(s) for s in (BTC, ETH, BTC, ETH)]

    assert rates == [Decimal("0.004"), Decimal("0.005"), Decimal("0.004"), Decimal("0.005")]
    assert _symbols_asked(api) == ["BTCUSDT", "ETHUSDT"]


def test_a_failed_read_raises_with_the_account_and_keeps_nothing(api, adapter):
    api.get(TIERS, status=429, body="slow down")
    api.get(TIERS, json=BTC_TIERS)

    with pytest.raises(RateLimitError) as caught:
        adapter.fetch_maintenance_margin_rate(BTC)

    assert caught.value.account == "main"
    assert adapter.fetch_maintenance_margin_rate(BTC) == Decimal("0.004")
    assert _symbols_asked(api) == ["BTCUSDT", "BTCUSDT"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ok(None), "no position tiers"),
        (ok({"symbol": "BTCUSDT"}), "expected a list of position tiers"),
        (tiers("BTCUSDT", (1, "0", "50000", "")), "field 'maintenanceMarginRate' of position tier is not a number"),
        (tiers("BTCUSDT", (1, "0", "50000", "0")), "rate 0 is not between 0 and 1"),
        (tiers("ETHUSDT", (1, "0", "50000", "0.004")), "the reply for BTCUSDT lists tiers of ETHUSDT"),
    ],
)
def test_a_reply_without_a_clear_first_tier_rate_is_malformed(api, adapter, body, message):
    api.get(TIERS, json=body)

    with pytest.raises(MalformedResponseError, match=message):
        adapter.fetch_maintenance_margin_rate(BTC)


def test_a_symbol_that_is_not_a_usdt_perpetual_is_refused_before_any_request(api, adapter):
    with pytest.raises(ValidationError):
        adapter.fetch_maintenance_margin_rate("BTC/USD:BTC")

    assert len(api.calls) == 0

