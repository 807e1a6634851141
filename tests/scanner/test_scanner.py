"""The scanner on the simulated market: ranked signals with components, filters with reasons, history, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest

from riskmgr import create_app
from riskmgr.candles.store import CandleStore
from riskmgr.core.clock import to_ms
from riskmgr.core.domain import AccountSnapshot, AccountStatus, MarginMode, Position, PositionSide
from riskmgr.core.errors import ConfigError, TemporaryError
from riskmgr.core.feature import Installed
from riskmgr.market.base import CandleArrays
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import RiskLimits
from riskmgr.scanner.core import HISTORY_BARS, Scanner, WinRates, signal_params
from riskmgr.scanner.feature import ScannerSettings, install, settings_from_env
from riskmgr.scanner.history import Outcome
from riskmgr.signals.conservative import COMPONENTS
from riskmgr.signals.quality import quality_score
from tests.conftest import T0, make_settings

DOGE = "DOGE/USDT:USDT"
BUSY = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # five signals on the simulated market at this bar close


@pytest.fixture
def scanner(runtime):
    return runtime.feature(Scanner)


def holding(runtime, symbol: str, clock) -> None:
    """Store a snapshot of the paper account holding ``symbol``."""
    position = Position(symbol, PositionSide.LONG, Decimal(100), Decimal("0.12"), Decimal("0.12"), Decimal(1),
                        MarginMode.ISOLATED, None, Decimal(0))
    runtime.snapshots.save([AccountSnapshot("paper", "paper", "paper", AccountStatus.OK, clock.now(), clock.now(),
                                            positions=(position,))])


# -- one scan ---------------------------------------------------------------------------------------------


def test_scan_of_the_simulated_market_proposes_a_signal_explained_by_its_components(scanner):
    view = scanner.scan(trigger="manual", auto_trade=False)

    assert (view["source"], view["simulated"], view["symbols"], view["error"]) == ("simulated", True, 20, None)
    (signal,) = view["signals"]
    assert (signal["rank"], signal["symbol"], signal["side"], signal["order_side"]) == (1, DOGE, "long", "buy")
    assert set(signal["components"]) == set(COMPONENTS)
    assert sum(signal["components"].values()) == signal["confidence"] >= 75
    quality = signal["quality"]
    # no recorded trades and no backtester: the win rate is left out and named, never a made-up 50 %
    assert set(quality["components"]) == {"confidence", "market", "reward_risk"}
    assert sum(Decimal(v) for v in quality["components"].values()) == Decimal(quality["score"])
    assert quality["missing"] == {"win_rate": "no history"} and "win rate: no history" in quality["notes"]
    assert signal["created_at"] == T0.isoformat() and signal["valid_until"] == (T0 + timedelta(minutes=15)).isoformat()
    assert signal["trade_url"].startswith("/trade?symbol=DOGE%2FUSDT%3AUSDT&side=buy&stop_loss=0.1236")
    assert len(view["rejected"]) == 19 and view["errors"] == [] and view["dropped"] == []
    assert {r["reason"] for r in view["rejected"]} <= {"no_trend", "weak_trend", "volatility", "rsi", "band",
                                                       "low_confidence", "warmup"}


def test_signals_are_ranked_by_quality_score_best_first(runtime, scanner, clock):
    clock.set(BUSY)

    view = scanner.scan(trigger="manual", auto_trade=False)

    scores = [Decimal(s["quality"]["score"]) for s in view["signals"]]
    assert len(scores) == 5
    assert scores == sorted(scores, reverse=True)
    assert [s["rank"] for s in view["signals"]] == [1, 2, 3, 4, 5]


def test_the_scan_feeds_the_rules_the_last_1000_closed_bars(runtime, scanner):
    store = runtime.feature(CandleStore)

    bars = store.candles("simulated", DOGE, "15m", limit=HISTORY_BARS)

    assert len(bars) == 1000 and int(bars.ts[-1]) + 900_000 == to_ms(T0)


def test_a_held_symbol_is_dropped_with_the_reason(runtime, scanner, clock):
    holding(runtime, DOGE, clock)

    view = scanner.scan(trigger="manual", auto_trade=False)

    assert view["signals"] == []
    (dropped,) = view["dropped"]
    assert (dropped["symbol"], dropped["status"]) == (DOGE, "dropped")
    assert dropped["drop_reason"] == "a position is already open on this symbol"
    assert view["held"] == [DOGE]


def test_a_symbol_taken_within_the_cooldown_is_dropped_until_it_ends(runtime, scanner, clock):
    first = scanner.scan(trigger="manual", auto_trade=False)["signals"][0]
    record_id = scanner.history.history(1)[0]
    assert record_id["key"] == first["key"]
    earlier = scanner.history.record("conservative", "simulated", _signal(scanner, clock, minutes=-30),
                                     quality_score(_signal(scanner, clock, minutes=-30), None), "active", "ok")
    clock.advance(minutes=-2)
    scanner.history.claim(earlier.id, "paper")
    scanner.history.finish(earlier.id, "paper", Outcome("taken", "order 9 accepted", "9"))
    clock.advance(minutes=2)

    view = scanner.scan(trigger="manual", auto_trade=False)

    dropped = next(d for d in view["dropped"] if d["symbol"] == DOGE)
    until = (T0 - timedelta(minutes=2) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert dropped["drop_reason"].startswith(f"cooling down until {until}")


def _signal(scanner, clock, minutes: int):
    """The DOGE signal of T0 moved to another bar (another record)."""
    from riskmgr.signals.conservative import scan_latest

    store = scanner.store
    candles = {DOGE: store.candles("simulated", DOGE, "15m", limit=HISTORY_BARS)}
    params = signal_params(RiskLimits(), "15m")
    (signal,) = scan_latest(candles, params, clock.now()).signals
    shift = timedelta(minutes=minutes)
    return replace(signal, created_at=signal.created_at + shift, valid_until=signal.valid_until + shift)


def test_a_signal_seen_by_several_scans_is_one_history_record_produced_once(runtime, scanner):
    produced = []
    runtime.events.subscribe(lambda e: produced.append(e) if e.kind == "signal.produced" else None)

    scanner.scan(trigger="manual", auto_trade=False)
    scanner.scan(trigger="manual", auto_trade=False)

    assert [r["symbol"] for r in scanner.history.history(10)] == [DOGE]
    assert len(produced) == 1 and produced[0].data["symbol"] == DOGE


def test_a_signal_nobody_took_expires_in_the_history_with_its_time(runtime, scanner, clock):
    scanner.scan(trigger="manual", auto_trade=False)
    clock.advance(minutes=16)

    scanner.scan(trigger="manual", auto_trade=False)

    record = next(r for r in scanner.history.history(10) if r["symbol"] == DOGE and r["created_at"] == T0.isoformat())
    assert record["status"] == "expired"
    assert record["status_reason"] == f"not taken before it expired at {(T0 + timedelta(minutes=15)).isoformat()}"


def test_the_confidence_threshold_comes_from_the_risk_limits(runtime, scanner):
    runtime.limits_store.update({"min_signal_confidence": 95}, by="test")

    view = scanner.scan(trigger="manual", auto_trade=False)

    assert view["signals"] == []
    assert {"symbol": DOGE, "reason": "low_confidence", "text": "confidence below the threshold"} in view["rejected"]
    assert view["thresholds"]["min_confidence"] == 95


def test_a_stricter_reward_risk_moves_the_target_out_with_headroom_and_keeps_the_stop():
    params = signal_params(RiskLimits(min_reward_risk=Decimal(3), default_target_pct=Decimal("4.5")), "15m")

    # 1.5 ATR * 3 * 1.25 headroom = 5.625 ATR (3.75:1), so a small move of the mark does not deny it at 3:1
    assert (params.stop_atr, params.target_atr, params.min_reward_risk) == (1.5, 5.625, 3.0)
    assert signal_params(RiskLimits(), "1h").target_atr == 3.75  # 2.5:1 against the 2:1 minimum
    extreme = signal_params(RiskLimits(min_reward_risk=Decimal(20), default_target_pct=Decimal(30)), "15m")
    assert (extreme.target_atr, extreme.min_reward_risk) == (20.0, 10.0)
    assert signal_params(RiskLimits(), "1h").indicators.timeframe == "1h"


# -- win rate for the quality score ------------------------------------------------------------------------


def _closed_trades(scanner, clock, results: list[str]) -> None:
    for k, result in enumerate(results):
        s = _signal(scanner, clock, minutes=-15 * (k + 2))
        rec = scanner.history.record("conservative", "simulated", s, quality_score(s, None), "active", "ok")
        scanner.history.claim(rec.id, "paper")
        scanner.history.finish(rec.id, "paper", Outcome("taken", "ok", str(k)))
        (ident, *_rest) = next(t for t in scanner.history.open_trades() if t[0] is not None)
        scanner.history.set_outcome(ident, result, Decimal(1 if result == "win" else -1), clock.now(), "test")


def test_recorded_outcomes_give_the_win_rate_once_there_are_five(runtime, scanner, clock):
    _closed_trades(scanner, clock, ["win", "win", "loss", "win", "loss"])
    clock.advance(minutes=6)  # past the cooldown of the last recorded entry

    (signal,) = scanner.scan(trigger="manual", auto_trade=False)["signals"]

    assert signal["quality"]["components"]["win_rate"] == "18"  # 60 % x 30 points
    assert "from 5 recorded trades of this rule on DOGE/USDT:USDT" in signal["quality"]["notes"]


def test_the_backtester_win_rate_is_used_when_too_few_trades_are_recorded(runtime, scanner):
    runtime.features.put(WinRates, SimpleNamespace(signal_win_rate=lambda **kw: 0.4 if kw["symbol"] == DOGE else None),
                         by="test")

    (signal,) = scanner.scan(trigger="manual", auto_trade=False)["signals"]

    assert signal["quality"]["components"]["win_rate"] == "12"
    assert "from the backtester" in signal["quality"]["notes"]


def test_a_backtester_win_rate_outside_zero_to_one_is_refused_and_ranked_as_unknown(runtime, scanner):
    runtime.features.put(WinRates, SimpleNamespace(signal_win_rate=lambda **kw: 55), by="test")

    (signal,) = scanner.scan(trigger="manual", auto_trade=False)["signals"]

    assert "win_rate" not in signal["quality"]["components"]
    assert signal["quality"]["missing"]["win_rate"].startswith("55 refused")
    assert any(note.startswith("win rate: 55 refused") for note in signal["quality"]["notes"])


# -- exchange sources: bad data is reported, never evaluated ----------------------------------------------


class StubSource:
    """An exchange whose BTC series has a hole it never fills and whose ETH klines always fail."""

    name = "binanceusdm"
    ordered = True

    def __init__(self, fail_listing: bool = False):
        self.fail_listing = fail_listing

    def timeframes(self):
        return ("15m",)

    def symbols(self):
        if self.fail_listing:
            raise TemporaryError("exchangeInfo: connection failed (ConnectionError)")
        return {"BTC/USDT:USDT": "BTCUSDT", "ETH/USDT:USDT": "ETHUSDT"}

    def fetch_range(self, native, timeframe, first, last):
        from riskmgr.candles.sources import Download

        if native == "ETHUSDT":
            raise TemporaryError("klines: HTTP 503 from the exchange")
        rows = [(ts, 100.0, 101.0, 99.0, 100.5, 5.0) for ts in range(first, last + 1, 900_000)
                if (ts // 900_000) % 500 != 7]
        return Download(rows, 1)


def _app(tmp_path, clock, source, settings: ScannerSettings):
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "candle_sources": {"binanceusdm": source}},
                                   feature_settings={"scanner": settings}))
    with app.app_context():
        db.create_all()
    return app


def test_symbols_whose_data_cannot_be_had_whole_are_reported_and_not_evaluated(tmp_path, clock):
    app = _app(tmp_path, clock, StubSource(), ScannerSettings(source="binanceusdm"))
    scanner = app.extensions["riskmgr"].feature(Scanner)

    view = scanner.scan(trigger="manual", auto_trade=False)

    errors = {e["symbol"]: e["error"] for e in view["errors"]}
    assert set(errors) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert "unrepaired gap" in errors["BTC/USDT:USDT"] and "1 bar missing at" in errors["BTC/USDT:USDT"]
    assert "HTTP 503" in errors["ETH/USDT:USDT"]
    assert (view["signals"], view["rejected"], view["simulated"]) == ([], [], False)


def test_a_scan_that_cannot_list_the_symbols_is_stored_as_failed_with_the_reason(tmp_path, clock):
    app = _app(tmp_path, clock, StubSource(fail_listing=True), ScannerSettings(source="binanceusdm"))
    scanner = app.extensions["riskmgr"].feature(Scanner)

    view = scanner.scan(trigger="schedule", auto_trade=True)

    assert view["error"] == ("the symbols of binanceusdm could not be read: exchangeInfo: connection failed "
                             "(ConnectionError)")
    assert scanner.history.latest_run().data["error"] == view["error"]


# -- settings ----------------------------------------------------------------------------------------------


def test_settings_defaults():
    assert settings_from_env({}) == ScannerSettings(60, "simulated", "15m", True, False, ())


def test_settings_read_from_the_environment():
    env = {"SIGNAL_SECONDS": "30", "SIGNAL_SOURCE": "Bitget", "SIGNAL_TIMEFRAME": "1h", "AUTO_TRADE_PAPER": "no",
           "AUTO_TRADE_LIVE": "yes", "AUTO_TRADE_ACCOUNTS": "main, paper"}

    assert settings_from_env(env) == ScannerSettings(30, "bitget", "1h", False, True, ("main", "paper"))


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SIGNAL_SECONDS", "5", ["SIGNAL_SECONDS", "'5'", "10–3600"]),
        ("SIGNAL_SECONDS", "soon", ["SIGNAL_SECONDS", "whole number"]),
        ("SIGNAL_SOURCE", "kraken", ["SIGNAL_SOURCE", "simulated, binanceusdm, bitget, bitunix"]),
        ("SIGNAL_TIMEFRAME", "7m", ["SIGNAL_TIMEFRAME", "15m"]),
        ("AUTO_TRADE_LIVE", "maybe", ["AUTO_TRADE_LIVE", "true/false"]),
        ("AUTO_TRADE_ACCOUNTS", "a b", ["AUTO_TRADE_ACCOUNTS", "'a b'"]),
    ],
)
def test_bad_settings_are_refused_with_name_value_and_range(name, value, words):
    with pytest.raises(ConfigError) as exc:
        settings_from_env({name: value})
    for word in words:
        assert word in str(exc.value)


def test_install_refuses_a_timeframe_the_source_does_not_serve(runtime):
    bad = replace(runtime, settings=runtime.settings.with_changes(
        feature_settings={"scanner": ScannerSettings(source="bitunix", timeframe="3m")}), features=Installed())

    with pytest.raises(ConfigError, match="SIGNAL_TIMEFRAME='3m' is not served by SIGNAL_SOURCE='bitunix'"):
        install(bad)


def test_install_refuses_an_unknown_account_in_auto_trade_accounts(runtime):
    bad = replace(runtime, settings=runtime.settings.with_changes(
        feature_settings={"scanner": ScannerSettings(auto_trade_accounts=("ghost",))}), features=Installed())

    with pytest.raises(ConfigError, match="AUTO_TRADE_ACCOUNTS names 'ghost'"):
        install(bad)


def test_the_scan_job_runs_every_signal_seconds_and_scans_for_auto_trading(runtime, monkeypatch):
    from riskmgr.scanner.feature import jobs

    calls = []
    monkeypatch.setattr(runtime.feature(Scanner), "scan", lambda **kw: calls.append(kw))
    [(job_id, seconds, job)] = jobs(runtime)
    job()

    assert (job_id, seconds) == ("signal-scan", 60)
    assert calls == [{"trigger": "schedule", "auto_trade": True}]


def test_candle_arrays_handed_to_the_rules_are_evenly_spaced(runtime):
    bars: CandleArrays = runtime.feature(CandleStore).candles("simulated", "BTC/USDT:USDT", "15m", limit=500)

    assert set(np.diff(bars.ts).tolist()) == {900_000}


def test_an_entry_on_one_account_outweighs_a_denial_on_another(scanner, clock):
    signal = _signal(scanner, clock, minutes=0)
    record = scanner.history.record("conservative", "simulated", signal, quality_score(signal, None), "active", "ok")
    for account in ("paper", "paper2"):
        scanner.history.claim(record.id, account)

    scanner.history.finish(record.id, "paper", Outcome("denied", "max_open_positions: 5 of 5 open"))
    scanner.history.finish(record.id, "paper2", Outcome("taken", "order 3 accepted", "3"))

    row = scanner.history.history(1)[0]
    assert (row["status"], row["status_reason"]) == ("taken", "taken on paper2: order 3 accepted")
    assert [d["decision"] for d in row["decisions"]] == ["denied", "taken"]
    assert scanner.history.claim(record.id, "paper") is False
