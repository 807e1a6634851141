"""The Signals page and its JSON API (the ``flask data fetch`` / ``flask signals scan`` commands are in
tests/app/cli/test_signals.py)."""

from __future__ import annotations

import pytest

from riskmgr.core.clock import to_ms
from riskmgr.scanner.core import Scanner
from tests.conftest import T0, csrf_from, login

DOGE = "DOGE/USDT:USDT"
SIGNAL_KEYS = {
    "key", "rank", "symbol", "side", "order_side", "timeframe", "entry", "stop", "target", "reward_risk",
    "confidence", "components", "quality", "market_condition", "atr", "indicators", "reasons", "created_at",
    "valid_until", "status", "status_reason", "status_at", "decisions", "drop_reason", "trade_url", "now",
}


def test_signals_before_any_scan_say_so_and_show_the_auto_trading_policy(api):
    data = api.get("/api/signals").get_json()

    assert (data["scan"], data["signals"], data["source"], data["simulated"]) == (None, [], "simulated", True)
    assert data["auto_trading"] == {"daily_cap": 10, "accounts": [
        {"account": "paper", "mode": "paper", "market": "simulated", "enabled": True, "reason": "on"}]}
    assert data["component_max"] == {"trend": 25, "strength": 20, "momentum": 15, "macd": 15, "band": 15,
                                     "volume": 10}
    assert data["quality_weights"] == {"confidence": "0.4", "win_rate": "0.3", "market": "0.2", "reward_risk": "0.1"}


def test_signals_after_a_scan_carry_score_components_status_and_last_scan_time(api, runtime):
    runtime.feature(Scanner).scan(trigger="schedule", auto_trade=False)

    data = api.get("/api/signals").get_json()

    assert data["scan"]["finished_at"] == T0.isoformat() and data["scan"]["symbols"] == 20
    assert data["scan"]["trigger"] == "schedule" and data["scan"]["error"] is None
    (signal,) = data["signals"]
    assert set(signal) == SIGNAL_KEYS
    assert (signal["symbol"], signal["status"], signal["decisions"]) == (DOGE, "active", [])
    assert len(data["rejected"]) == 19 and set(data["rejected"][0]) == {"symbol", "reason", "text"}
    assert data["thresholds"] == {"min_confidence": 75, "cooldown_minutes": 5, "min_reward_risk": "2"}


def test_statuses_are_current_when_read_after_the_scan(api, runtime, clock):
    runtime.feature(Scanner).scan(trigger="schedule", auto_trade=False)
    clock.advance(minutes=20)
    runtime.feature(Scanner).history.expire(clock.now())

    (signal,) = api.get("/api/signals").get_json()["signals"]

    assert signal["status"] == "expired"


def test_scan_now_runs_a_scan_that_never_trades(client, runtime):
    login(client)
    token = csrf_from(client, "/signals")

    answer = client.post("/api/signals/scan", json={}, headers={"X-CSRFToken": token})

    assert answer.status_code == 200
    data = answer.get_json()
    assert data["scan"]["trigger"] == "manual" and data["signals"][0]["symbol"] == DOGE
    assert data["signals"][0]["decisions"] == []


def test_scan_now_without_the_csrf_token_is_refused(client):
    login(client)

    assert client.post("/api/signals/scan", json={}).status_code in (400, 403)


def test_the_api_needs_authentication(client):
    assert client.get("/api/signals").status_code == 401
    assert client.get("/api/signals/history").status_code == 401


def test_history_lists_signals_with_their_decisions(api, runtime):
    runtime.feature(Scanner).scan(trigger="schedule", auto_trade=True)

    (row,) = api.get("/api/signals/history?limit=5").get_json()["signals"]

    assert (row["symbol"], row["status"]) == (DOGE, "active")
    assert row["decisions"][0]["decision"] == "skipped"  # no poll has read the paper balance yet
    assert row["decisions"][0]["reason"] == "no balance has been read from the account yet"


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("limit=many", "limit"), ("symbol=NOPE", "symbol")])
def test_history_refuses_bad_parameters_naming_the_field(api, query, field):
    answer = api.get(f"/api/signals/history?{query}")

    assert answer.status_code == 400 and answer.get_json()["detail"]["field"] == field


def test_chart_series_hold_price_bands_emas_rsi_and_the_signal_lines(api, runtime):
    runtime.feature(Scanner).scan(trigger="schedule", auto_trade=False)

    data = api.get("/api/signals/DOGE%2FUSDT%3AUSDT/chart").get_json()

    assert (data["symbol"], data["timeframe"], data["trend_timeframe"], data["simulated"]) == (DOGE, "15m", "1h", True)
    assert len(data["t"]) == 200 and data["t"][-1] + 900_000 == to_ms(T0)
    for name in ("open", "high", "low", "close", "bb_upper", "bb_middle", "bb_lower", "rsi", "ema_fast", "ema_mid",
                 "ema_slow", "volume"):
        assert len(data[name]) == 200 and all(v is not None for v in data[name]), name
    assert all(lo <= c <= hi for lo, c, hi in zip(data["low"], data["close"], data["high"], strict=True))
    assert data["ema_fast"][-1] > data["ema_mid"][-1] > data["ema_slow"][-1]  # the long's trend stack
    assert data["signal"]["side"] == "long" and float(data["signal"]["stop"]) < data["close"][-1]
    assert data["rsi_band"] == {"long": [45.0, 68.0], "short": [32.0, 55.0]}


def test_chart_accepts_the_exchange_id_and_refuses_an_unknown_symbol(api):
    assert api.get("/api/signals/DOGEUSDT/chart").get_json()["symbol"] == DOGE
    answer = api.get("/api/signals/NOPEUSDT/chart")
    assert answer.status_code == 400 and answer.get_json()["detail"]["field"] == "symbol"


def test_signals_page_explains_the_rules_and_labels_the_demo_market(client):
    login(client)

    page = client.get("/signals").get_data(as_text=True)

    assert "DEMO / SIMULATED market data" in page
    assert "Trend on the higher timeframe" in page and "reward:risk" in page
    assert "confidence, 40 %" in page
    assert "js/signals.js" in page and "chartjs-plugin-annotation.min.js" in page
    assert 'href="/signals"' in page and ">Signals</a>" in page
