"""The risk engine after each poll: tiers move the trading state down once per tier and day, the position monitor
acts through the gateway exactly once, and every automatic emergency trigger fires once and names itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import (
    AccountSnapshot,
    AccountStatus,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TradingState,
)
from riskmgr.core.errors import MalformedResponseError, TemporaryError
from riskmgr.persistence.extensions import db
from riskmgr.persistence.models import AccountState, OrderIntent
from riskmgr.risk import engine
from riskmgr.risk.context import ClosedTrade
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.risk.emergency.store import StartResult
from tests.conftest import T0, make_settings
from tests.fakes import BTC, ReadOnlyFake, balance, long_btc

FEATURE = "emergency"


class TradingFake(ReadOnlyFake):
    """A fake venue that accepts closes, reduce-only orders and cancels, and records them."""

    def __init__(self, account: str, equity: str = "1000"):
        super().__init__(account, equity)
        self.closes: list[tuple[str, PositionSide, str | None]] = []
        self.submitted: list[Any] = []
        self.close_errors: list[Exception] = []
        self.remove_on_close = False
        self.trades: list[ClosedTrade] = []

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        self.closes.append((symbol, side, client_id))
        if self.close_errors:
            raise self.close_errors.pop(0)
        if self.remove_on_close:
            self.positions = [p for p in self.positions if (p.symbol, p.side) != (symbol, side)]
        return Order(f"c{len(self.closes)}", symbol, side.close_order_side, OrderType.MARKET, OrderStatus.FILLED,
                     None, reduce_only=True, client_id=client_id)

    def place_order(self, request):  # type: ignore[no-untyped-def]
        self.submitted.append(request)
        return Order(f"o{len(self.submitted)}", request.symbol, request.side, request.type, OrderStatus.FILLED,
                     request.qty, reduce_only=request.reduce_only, client_id=request.client_id)

    def cancel_all_orders(self, symbol=None, *, include_protective=True):  # type: ignore[no-untyped-def]
        return []

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        return list(self.trades)


class StubEmergency:
    """Stands in for the emergency stop service: records what started it; a started sequence stays running."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, str, str]] = []
        self.fail_next = False
        self.store = SimpleNamespace(running_id=lambda: len(self.starts) or None)

    def start(self, reason: str, *, actor: str, trigger: str) -> StartResult:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database is locked")
        self.starts.append((trigger, actor, reason))
        return StartResult(len(self.starts), False)


def stop_loss(trigger: str, side: OrderSide = OrderSide.SELL) -> Order:
    return Order("sl1", BTC, side, OrderType.STOP_MARKET, OrderStatus.NEW, None, trigger_price=Decimal(trigger),
                 reduce_only=True, close_position=True)


@pytest.fixture
def fake():
    return TradingFake("a")


@pytest.fixture
def build(tmp_path, clock, fake):
    """Return a factory of runtimes on the fake account, with the emergency stop stubbed unless asked otherwise."""
    apps = []

    def make(settings: EmergencySettings | None = None, real_emergency: bool = False):  # type: ignore[no-untyped-def]
        features = {FEATURE: settings or EmergencySettings(backoff_seconds=Decimal("0.01"))}
        app = create_app(make_settings(tmp_path, feature_settings=features, extra={"clock": clock, "adapters": {
            "a": fake}}))
        with app.app_context():
            db.create_all()
        apps.append(app)
        rt = app.extensions["riskmgr"]
        if not real_emergency:
            rt.features.replace(EmergencyService, StubEmergency())
        with Session(rt.engine) as session, session.begin():
            session.merge(AccountState(account="a", peak_equity=Decimal(1000), peak_at=T0, day=T0.date().isoformat(),
                                     day_start_equity=Decimal(1000), updated_at=T0))
        rt.seen = []
        rt.events.subscribe(lambda e: rt.seen.append(e))
        return rt

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def cycle(rt) -> None:  # type: ignore[no-untyped-def]
    poll_cycle(rt, [engine.poll_hook])


def kinds(rt, kind: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [e for e in rt.seen if e.kind == kind]


# -- tiers ---------------------------------------------------------------------------------------------------------
def test_reducing_tier_sets_reducing_with_the_reason_and_is_announced_once_per_day(build, fake, clock):
    rt = build()
    fake.balance = balance("960")  # 4 % below the 1000 peak

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    status = rt.trading.current()
    assert status.state is TradingState.REDUCING and status.changed_by == "risk-engine"
    assert "drawdown 4.00 %" in status.reason and "REDUCING tier" in status.reason
    assert len(kinds(rt, "risk.drawdown")) == 1
    assert [e["kind"] for e in rt.audit.query(kind="risk.drawdown")] == ["risk.drawdown"]


def test_last_drawdown_tier_halts_fires_drawdown_max_and_the_state_never_moves_back_up(build, fake, clock):
    rt = build()
    fake.balance = balance("960")
    cycle(rt)
    fake.balance = balance("950")  # 5 %: the last tier

    clock.advance(5)
    cycle(rt)
    fake.balance = balance("960")
    clock.advance(5)
    cycle(rt)

    assert rt.trading.current().state is TradingState.HALTED
    assert [s[0] for s in rt.feature(EmergencyService).starts] == ["auto:drawdown_max"]
    assert [e.data["to"] for e in kinds(rt, "state.changed")] == ["REDUCING", "HALTED"]
    assert [e.data["tier"] for e in kinds(rt, "risk.drawdown")] == ["reducing", "halt"]


def test_warn_tier_is_audited_and_announced_without_changing_the_state(build, fake):
    rt = build()
    fake.balance = balance("970")  # 3 %: the warn tier

    cycle(rt)

    assert rt.trading.current().state is TradingState.ACTIVE
    assert [e.data["tier"] for e in kinds(rt, "risk.drawdown")] == ["warn"]
    assert len(rt.audit.query(kind="risk.drawdown")) == 1


def test_a_tier_still_reached_on_the_next_day_is_announced_again(build, fake, clock):
    rt = build()
    fake.balance = balance("960")
    cycle(rt)

    clock.advance(days=1)
    cycle(rt)

    assert len(kinds(rt, "risk.drawdown")) == 2


def test_a_rearm_holds_for_the_rest_of_the_risk_day(build, fake, clock):
    rt = build()
    fake.balance = balance("960")
    cycle(rt)
    rt.trading.rearm("reviewed the drawdown, keeping size small", "operator")

    clock.advance(5)
    cycle(rt)

    assert rt.trading.current().state is TradingState.ACTIVE


def test_daily_loss_limit_is_announced_once_without_a_state_change_by_default(build, fake, clock):
    rt = build()
    fake.balance = balance("969")  # 3.1 % down on the day

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    assert len(kinds(rt, "risk.daily_loss")) == 1
    assert rt.trading.current().state is TradingState.ACTIVE
    assert rt.feature(EmergencyService).starts == []


def test_daily_loss_limit_halts_and_fires_daily_loss_when_configured(build, fake):
    rt = build()
    rt.limits_store.update({"auto_emergency_on_daily_loss": True}, "tester")
    fake.balance = balance("969")

    cycle(rt)

    assert rt.trading.current().state is TradingState.HALTED
    assert [s[0] for s in rt.feature(EmergencyService).starts] == ["auto:daily_loss"]
    trigger_audit = rt.audit.query(kind="risk.trigger")
    assert len(trigger_audit) == 1 and "'Daily loss limit'" in trigger_audit[0]["message"]


# -- position monitor ----------------------------------------------------------------------------------------------
def test_monitor_closes_a_critical_position_through_the_gateway_exactly_once_across_two_cycles(build, fake, clock):
    rt = build()
    fake.positions = [long_btc(entry="50000", mark="47000")]  # 6 % against entry
    fake.orders = [stop_loss("46000")]  # protected, so the monitor (not the emergency stop) acts

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    assert [(c[0], c[1]) for c in fake.closes] == [(BTC, PositionSide.LONG)]
    assert len(kinds(rt, "position.closed_by_monitor")) == 1
    with Session(rt.engine) as session:
        intents = session.scalars(select(OrderIntent).where(OrderIntent.purpose == "monitor-close")).all()
    assert [(i.status, i.client_id) for i in intents] == [("accepted", fake.closes[0][2])]
    assert rt.feature(EmergencyService).starts == []


def test_monitor_retries_a_rejected_close_next_cycle_under_a_new_intent(build, fake, clock):
    rt = build()
    fake.positions = [long_btc(entry="50000", mark="47000")]
    fake.orders = [stop_loss("46000")]
    fake.close_errors = [TemporaryError("busy", operation="close_position")]

    for _ in range(3):
        cycle(rt)
        clock.advance(5)

    assert len(fake.closes) == 2
    assert fake.closes[0][2] != fake.closes[1][2]
    assert len(kinds(rt, "position.closed_by_monitor")) == 1


def test_partial_take_profit_is_taken_once_per_position(build, fake, clock):
    rt = build()
    rt.limits_store.update({"partial_tp_enabled": True}, "tester")
    fake.positions = [long_btc(size="0.01", entry="50000", mark="52000")]  # 4 % in favour

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    assert [(r.symbol, r.side, r.type, r.qty, r.reduce_only) for r in fake.submitted] == [
        (BTC, OrderSide.SELL, OrderType.MARKET, Decimal("0.005"), True)
    ]
    assert fake.closes == []
    assert len(kinds(rt, "position.closed_by_monitor")) == 1


def test_stale_or_old_data_never_leads_to_a_close_or_a_trigger(build, fake, clock):
    rt = build()
    critical = long_btc(entry="50000", mark="47000")
    base = AccountSnapshot("a", "fake", "live", AccountStatus.OK, clock.now(), clock.now() - timedelta(seconds=31),
                           balance=balance("1000"), positions=(critical,))
    stale = replace(base, status=AccountStatus.STALE, fetched_at=clock.now() - timedelta(seconds=5),
                    error="timeout")

    engine.poll_hook(rt, [base])  # OK but older than stale_after_seconds (30)
    engine.poll_hook(rt, [stale])

    assert fake.closes == []
    assert rt.feature(EmergencyService).starts == []


# -- automatic emergency triggers -------------------------------------------------------------------------------------
def test_critical_position_without_a_working_stop_fires_critical_unprotected_once(build, fake, clock):
    rt = build()
    fake.positions = [long_btc(entry="50000", mark="47000")]
    fake.orders = [stop_loss("48000")]  # above the mark: already crossed, so not working

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    starts = rt.feature(EmergencyService).starts
    assert [(s[0], s[1]) for s in starts] == [("auto:critical_unprotected", "risk-engine")]
    assert "without a working stop-loss" in starts[0][2]
    audit = rt.audit.query(kind="risk.trigger")
    assert len(audit) == 1
    assert audit[0]["message"].startswith("automatic emergency trigger 'CRITICAL position without a stop'")
    assert fake.closes == []  # the emergency stop flattens; the monitor does not race it while it runs


def test_a_trigger_whose_emergency_stop_could_not_start_fires_again_next_cycle(build, fake, clock):
    rt = build()
    rt.feature(EmergencyService).fail_next = True
    fake.positions = [long_btc(entry="50000", mark="47000")]  # CRITICAL, no stop

    cycle(rt)
    assert rt.feature(EmergencyService).starts == []
    clock.advance(5)
    cycle(rt)

    assert [s[0] for s in rt.feature(EmergencyService).starts] == ["auto:critical_unprotected"]


def test_failed_polls_trigger_fires_once_at_the_configured_count(build, fake, clock):
    rt = build(EmergencySettings(failed_polls=2))
    cycle(rt)
    fake.fail_with = MalformedResponseError("garbled answer", operation="fetch_balance")  # not retried: fast

    fired_after = []
    for _ in range(3):
        clock.advance(5)
        cycle(rt)
        fired_after.append(len(rt.feature(EmergencyService).starts))

    assert fired_after == [0, 1, 1]
    assert rt.feature(EmergencyService).starts[0][0] == "auto:failed_polls"
    assert "2 polls failed in a row" in rt.feature(EmergencyService).starts[0][2]


def test_stale_data_trigger_fires_when_the_last_good_read_is_too_old(build, fake, clock):
    rt = build(EmergencySettings(stale_seconds=30))
    cycle(rt)
    fake.fail_with = MalformedResponseError("garbled answer", operation="fetch_balance")

    clock.advance(20)
    cycle(rt)
    assert rt.feature(EmergencyService).starts == []
    clock.advance(11)
    cycle(rt)

    assert [s[0] for s in rt.feature(EmergencyService).starts] == ["auto:stale_data"]


def test_data_triggers_are_off_by_default(build, fake, clock):
    rt = build()
    cycle(rt)
    fake.fail_with = MalformedResponseError("garbled answer", operation="fetch_balance")

    for _ in range(5):
        clock.advance(60)
        cycle(rt)

    assert rt.feature(EmergencyService).starts == []


def _trades(*pnls: str) -> list[ClosedTrade]:
    start = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    return [ClosedTrade(start - timedelta(minutes=i), Decimal(p)) for i, p in enumerate(pnls)]  # newest first


def test_consecutive_losses_trigger_fires_once_per_streak_when_enabled(build, fake, clock):
    rt = build(EmergencySettings(on_consecutive_losses=True))
    fake.trades = _trades("-5", "-3", "-1", "10")

    cycle(rt)
    clock.advance(5)
    cycle(rt)

    starts = rt.feature(EmergencyService).starts
    assert [s[0] for s in starts] == ["auto:consecutive_losses"]
    assert "3 losing closes in a row (limit 3)" in starts[0][2]


def test_consecutive_losses_trigger_stays_quiet_below_the_limit_and_when_disabled(build, fake):
    below = build(EmergencySettings(on_consecutive_losses=True))
    fake.trades = _trades("-5", "-3", "10", "-1")
    cycle(below)
    assert below.feature(EmergencyService).starts == []

    fake.trades = _trades("-5", "-3", "-1")
    disabled = build()
    cycle(disabled)
    assert disabled.feature(EmergencyService).starts == []


def test_a_trigger_runs_the_real_emergency_stop_until_flat(build, fake):
    rt = build(real_emergency=True)
    fake.remove_on_close = True
    fake.positions = [long_btc(entry="50000", mark="47000")]  # CRITICAL, no stop at all

    cycle(rt)
    svc = service(rt)
    view = svc.wait(svc.store.latest_id(), timeout=30)

    assert view["status"] == "flat" and view["trigger"] == "auto:critical_unprotected"
    assert view["actor"] == "risk-engine"
    assert fake.positions == [] and len(fake.closes) == 1
    assert rt.trading.current().state is TradingState.HALTED
