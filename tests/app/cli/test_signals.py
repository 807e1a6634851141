"""``flask signals scan`` and ``flask data fetch``: what they print, and a one-line reason with exit 1 on failure."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import responses

from riskmgr import create_app
from riskmgr.candles.ccxt_source import BinanceSource
from riskmgr.core.clock import to_ms
from riskmgr.persistence.extensions import db
from tests.conftest import T0, make_settings


def test_cli_scan_prints_the_ranked_signals_and_why_others_have_none(runner):
    result = runner.invoke(args=["signals", "scan"])

    assert result.exit_code == 0, result.output
    assert "scan of 20 symbol(s), 15m bars, DEMO / SIMULATED market" in result.output
    assert re.search(r"#1 DOGE/USDT:USDT\s+long\s+quality\s+\d", result.output)
    assert "no signal on" in result.output


def test_cli_fetch_on_the_simulated_market_says_nothing_is_cached(runner):
    since = (T0 - timedelta(hours=2)).isoformat()

    result = runner.invoke(args=["data", "fetch", "simulated", "BTCUSDT", "15m", "--since", since])

    assert result.exit_code == 0, result.output
    assert "simulated bars are generated on demand (8 closed bars in range)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "fetch", "kraken", "BTCUSDT", "15m", "--since", "2026-11-20T00:00:00Z"], "source: 'kraken'"),
        (["data", "fetch", "simulated", "BTCUSDT", "15m", "--since", "yesterday"], "since: 'yesterday'"),
        (["data", "fetch", "simulated", "BTCUSDT", "2m", "--since", "2026-11-20T00:00:00Z"], "timeframe: '2m'"),
    ],
)
def test_cli_fetch_fails_with_a_one_line_reason(runner, args, message):
    result = runner.invoke(args=args)

    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


@pytest.fixture
def binance_app(tmp_path, clock):
    source = BinanceSource(clock, throttle=False, sleep=lambda _s: None)
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "candle_sources": {"binanceusdm": source}}))
    with app.app_context():
        db.create_all()
    return app


def _serve(mock, hole_ms: int | None) -> None:
    import json
    from urllib.parse import parse_qsl, urlsplit

    mock.add(responses.GET, "https://fapi.binance.com/fapi/v1/exchangeInfo", json={"symbols": [
        {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
         "contractType": "PERPETUAL", "status": "TRADING"}]})

    def klines(request):
        q = dict(parse_qsl(urlsplit(request.url).query))
        rows = [[ts, "100", "101", "99", "100.5", "3", ts + 899_999, "300", 1, "1", "1", "0"]
                for ts in range(int(q["startTime"]), int(q["endTime"]) + 1, 900_000) if ts != hole_ms]
        return 200, {}, json.dumps(rows)

    mock.add_callback(responses.GET, re.compile(r"https://fapi\.binance\.com/fapi/v1/klines\?.*"), callback=klines)


def test_cli_fetch_from_an_exchange_prints_bars_and_gaps(binance_app):
    since = T0 - timedelta(hours=3)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _serve(mock, None)
        result = binance_app.test_cli_runner().invoke(
            args=["data", "fetch", "binanceusdm", "BTC/USDT:USDT", "15m", "--since", since.isoformat()])

    assert result.exit_code == 0, result.output
    assert "12 new bar(s) stored, 0 already stored, 1 request(s)" in result.output
    assert "gaps found: 0, repaired: 0" in result.output


def test_cli_fetch_exits_1_when_a_gap_stays(binance_app):
    since = T0 - timedelta(hours=3)
    hole = to_ms(since) + 5 * 900_000
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _serve(mock, hole)
        result = binance_app.test_cli_runner().invoke(
            args=["data", "fetch", "binanceusdm", "BTCUSDT", "15m", "--since", since.isoformat()])

    assert result.exit_code == 1
    assert "gaps found: 1, repaired: 0" in result.output
    assert "1 gap(s) could not be repaired" in result.output


def test_cli_fetch_reports_an_unreachable_exchange_in_one_line(binance_app):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, "https://fapi.binance.com/fapi/v1/exchangeInfo", status=503, body="down")
        result = binance_app.test_cli_runner().invoke(
            args=["data", "fetch", "binanceusdm", "BTCUSDT", "15m", "--since", "2026-11-20T00:00:00Z"])

    assert result.exit_code == 1
    assert result.output.startswith("Error: binanceusdm: ") and len(result.output.strip().splitlines()) == 1
