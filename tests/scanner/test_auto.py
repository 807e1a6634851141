"""Auto-trading: entries go through the gateway with their stop, within the daily cap and the trading state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import PositionSide, TradingState
from riskmgr.exchanges.paper.models import PaperFill
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.costs import trading_costs
from riskmgr.risk.recentre import recentre
from riskmgr.risk.sizing import SizingInput, size_position
from riskmgr.scanner.auto import policies
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.feature import ScannerSettings
from riskmgr.scanner.models import SignalDecision

DOGE = "DOGE/USDT:USDT"
BUSY = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # five signals on the simulated market at this bar close


@pytest.fixture
def scanner(runtime):
    return runtime.feature(Scanner)


def decisions(runtime) -> list[SignalDecision]:
    with Session(runtime.engine) as session:
        return list(session.scalars(select(SignalDecision).order_by(SignalDecision.id)))


def test_a_paper_signal_is_sized_from_its_stop_and_sent_through_the_gateway_with_its_protection(runtime, scanner):
    executed = []
    runtime.events.subscribe(lambda e: executed.append(e) if e.kind == "signal.executed" else None)
    poll_cycle(runtime)

    view = scanner.scan(trigger="schedule", auto_trade=True)

    (decision,) = decisions(runtime)
    assert (decision.account, decision.decision, view["taken"]) == ("paper", "taken", 1)
    signal = view["signals"][0]
    spec = runtime.gateway.spec("paper", DOGE)
    limits = runtime.limits()
    # stop and target move with the mark at the signal's distances; the size pays for the paper fees and slippage
    mark = runtime.market.ticker(DOGE).mark
    levels = recentre(PositionSide.LONG, Decimal(signal["entry"]), Decimal(signal["stop"]), Decimal(signal["target"]),
                      mark, spec.price_tick)
    expected = size_position(SizingInput(
        PositionSide.LONG, mark, levels.stop, levels.target, min(limits.max_leverage, spec.max_leverage),
        Decimal(10000), trading_costs(runtime.accounts["paper"], spec, limits)), spec, limits)
    assert decision.qty == expected.qty > 0
    assert decision.reason.endswith(f"({levels.describe()})")
    with Session(runtime.engine) as session:
        entry = session.scalars(select(OrderIntent).where(OrderIntent.purpose == "signal")).one()
    assert entry.actor == "auto-trader" and entry.status == "accepted"
    assert entry.request["side"] == "buy" and entry.request["type"] == "market"
    assert decision.order_id == entry.result["order_id"]
    (position,) = runtime.accounts["paper"].fetch_positions()
    assert (position.symbol, position.side, position.size) == (DOGE, PositionSide.LONG, decision.qty)
    stops = [o for o in runtime.accounts["paper"].fetch_open_orders() if o.is_stop_loss]
    assert len(stops) == 1 and stops[0].trigger_price < runtime.market.ticker(DOGE).mark
    (audit,) = runtime.audit.query(kind="signal.taken")
    assert audit["actor"] == "auto-trader" and audit["account"] == "paper" and audit["data"]["symbol"] == DOGE
    assert len(executed) == 1 and executed[0].account == "paper"


def test_a_signal_is_decided_once_however_many_scans_see_it(runtime, scanner, clock):
    poll_cycle(runtime)
    scanner.scan(trigger="schedule", auto_trade=True)
    clock.advance(seconds=30)
    poll_cycle(runtime)

    scanner.scan(trigger="schedule", auto_trade=True)

    assert len(decisions(runtime)) == 1
    with Session(runtime.engine) as session:
        assert len(session.scalars(select(OrderIntent).where(OrderIntent.purpose == "signal")).all()) == 1


def test_when_trading_is_halted_the_entry_is_denied_by_the_gateway_and_audited(runtime, scanner):
    poll_cycle(runtime)
    runtime.trading.escalate(TradingState.HALTED, "test halt", "test")

    scanner.scan(trigger="schedule", auto_trade=True)

    (decision,) = decisions(runtime)
    assert decision.decision == "denied"
    assert decision.reason.startswith("Trading state: ")
    assert any(v["rule"] == "trading_state" and not v["allowed"] for v in decision.verdicts)
    assert runtime.accounts["paper"].fetch_positions() == []
    (audit,) = runtime.audit.query(kind="signal.denied")
    assert "Trading state: trading is HALTED" in audit["message"] and audit["data"]["verdicts"]
    record = scanner.history.history(1)[0]
    assert record["status"] == "denied" and record["status_reason"].startswith("denied on paper: Trading state")


def test_the_daily_cap_takes_the_best_ranked_entries_and_skips_the_rest_with_the_reason(runtime, scanner, clock):
    runtime.limits_store.update({"auto_trade_daily_cap": 2}, by="test")
    clock.set(BUSY)
    poll_cycle(runtime)

    view = scanner.scan(trigger="schedule", auto_trade=True)

    by_key = {s["key"]: s for s in view["signals"]}
    made = decisions(runtime)
    taken = [d for d in made if d.decision == "taken"]
    skipped = [d for d in made if d.decision == "skipped"]
    assert (len(taken), len(skipped)) == (2, 3)
    assert {d.reason for d in skipped} == {"daily cap reached: 2 of 2 automatic entries this risk day (UTC)"}
    taken_keys = [r["key"] for r in scanner.history.history(10) if r["status"] == "taken"]
    assert sorted(by_key[key]["rank"] for key in taken_keys) == [1, 2]
    assert len(runtime.audit.query(kind="signal.skipped")) == 3


def test_a_cap_reached_yesterday_does_not_count_today(runtime, scanner, clock):
    runtime.limits_store.update({"auto_trade_daily_cap": 1}, by="test")
    clock.set(BUSY - timedelta(days=1) + timedelta(hours=8))
    poll_cycle(runtime)
    scanner.scan(trigger="schedule", auto_trade=True)
    clock.set(BUSY)
    poll_cycle(runtime)

    scanner.scan(trigger="schedule", auto_trade=True)

    today = [d for d in decisions(runtime) if d.decided_at >= BUSY.replace(hour=0)]
    assert [d.decision for d in today].count("taken") == 1


def test_without_a_balance_read_the_entry_is_skipped_and_audited(runtime, scanner):
    scanner.scan(trigger="schedule", auto_trade=True)

    (decision,) = decisions(runtime)
    assert (decision.decision, decision.reason) == ("skipped", "no balance has been read from the account yet")
    assert runtime.audit.query(kind="signal.skipped")[0]["account"] == "paper"
    assert scanner.history.history(1)[0]["status"] == "active"  # still tradeable by hand until it expires


def test_a_manual_scan_never_trades(runtime, scanner):
    poll_cycle(runtime)

    scanner.scan(trigger="manual", auto_trade=False)

    assert decisions(runtime) == []
    assert runtime.accounts["paper"].fetch_positions() == []


def test_auto_trade_paper_off_leaves_paper_accounts_alone(runtime, scanner):
    scanner.auto._settings = ScannerSettings(auto_trade_paper=False)
    poll_cycle(runtime)

    scanner.scan(trigger="schedule", auto_trade=True)

    assert decisions(runtime) == []


def test_the_outcome_of_a_taken_trade_is_its_closed_pnl_once_the_position_is_gone(runtime, scanner, clock):
    poll_cycle(runtime)
    scanner.scan(trigger="schedule", auto_trade=True)
    clock.advance(minutes=3)
    runtime.gateway.close_position("paper", DOGE, PositionSide.LONG, actor="test", intent_id="close-doge")
    clock.advance(seconds=5)
    poll_cycle(runtime)

    scanner.scan(trigger="schedule", auto_trade=False)

    (decision,) = decisions(runtime)
    with Session(runtime.engine) as session:
        closing = session.scalars(select(PaperFill).where(PaperFill.closes.is_(True))).one()
    assert decision.outcome_pnl == closing.net_pnl
    assert decision.outcome == ("win" if closing.net_pnl > 0 else "loss")
    assert decision.outcome_at == closing.ts
    history = scanner.history.history(1)[0]["decisions"][0]
    assert history["outcome"] == decision.outcome and history["outcome_note"] == "closed P&L after fees"


def test_an_open_trade_has_no_outcome_yet(runtime, scanner, clock):
    poll_cycle(runtime)
    scanner.scan(trigger="schedule", auto_trade=True)
    clock.advance(seconds=10)
    poll_cycle(runtime)

    scanner.scan(trigger="schedule", auto_trade=False)

    assert decisions(runtime)[0].outcome is None


# -- who may auto-trade -----------------------------------------------------------------------------------


def _runtime_with(*accounts):
    return SimpleNamespace(market=SimpleNamespace(source="simulated"),
                           accounts={name: SimpleNamespace(mode=mode, exchange=exchange)
                                     for name, mode, exchange in accounts},
                           optional_feature=lambda kind: None)  # no account switches installed


def test_live_accounts_do_not_auto_trade_unless_switched_on():
    rt = _runtime_with(("paper", "paper", "paper"), ("main", "live", "bitget"))

    found = {p.account: p for p in policies(rt, ScannerSettings())}

    assert (found["paper"].enabled, found["paper"].reason) == (True, "on")
    assert (found["main"].enabled, found["main"].reason) == (False, "off for live accounts (AUTO_TRADE_LIVE=false)")


def test_a_live_account_only_trades_signals_from_its_own_exchange():
    rt = _runtime_with(("paper", "paper", "paper"), ("main", "live", "bitget"), ("bn", "live", "binanceusdm"))

    found = {p.account: p for p in policies(rt, ScannerSettings(source="bitget", auto_trade_live=True))}

    assert found["main"].enabled is True
    assert found["bn"].reason == "signals come from bitget prices; this account trades on binanceusdm"
    assert found["paper"].reason == "signals come from bitget prices; this account trades on simulated"


def test_auto_trade_accounts_narrows_who_trades():
    rt = _runtime_with(("paper", "paper", "paper"), ("paper2", "paper", "paper"))

    found = {p.account: p for p in policies(rt, ScannerSettings(auto_trade_accounts=("paper2",)))}

    assert (found["paper"].enabled, found["paper"].reason) == (False, "not listed in AUTO_TRADE_ACCOUNTS")
    assert found["paper2"].enabled is True
