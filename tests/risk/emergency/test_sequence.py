"""The emergency stop against real paper accounts on the simulated market.

Flat although a third of the close calls fail, every attempt recorded; resumed by a new app after a crash
mid-sequence; one sequence however many triggers race; HALTED afterwards; nothing reported flat that was not.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.app.config import Settings
from riskmgr.app.runtime import Runtime
from riskmgr.app.scheduler import serve
from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide, TradingState
from riskmgr.core.errors import TemporaryError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.market.sim.market import SimulatedMarket
from riskmgr.persistence.extensions import db
from riskmgr.risk.emergency import steps as emergency_steps
from riskmgr.risk.emergency.config import EmergencySettings
from riskmgr.risk.emergency.feature import service
from riskmgr.risk.emergency.models import EmergencySequence
from riskmgr.risk.emergency.service import EmergencyService
from tests.conftest import database_url, make_settings

ACCOUNTS = ("alpha", "beta", "gamma")
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")
FAST = EmergencySettings(backoff_seconds=Decimal("0.01"), max_rounds=12, lease_seconds=5)
FEATURE = "emergency"


class Delegate(ExchangeAdapter):
    """An adapter that forwards every call to another one (tests wrap it to inject faults)."""

    def __init__(self, inner: ExchangeAdapter):
        super().__init__(inner.account)
        self.inner = inner
        self.exchange, self.mode, self.simulated = inner.exchange, inner.mode, inner.simulated

    def fetch_balance(self):  # type: ignore[no-untyped-def]
        return self.inner.fetch_balance()

    def fetch_positions(self):  # type: ignore[no-untyped-def]
        return self.inner.fetch_positions()

    def fetch_open_orders(self):  # type: ignore[no-untyped-def]
        return self.inner.fetch_open_orders()

    def fetch_markets(self):  # type: ignore[no-untyped-def]
        return self.inner.fetch_markets()

    def fetch_tickers(self):  # type: ignore[no-untyped-def]
        return self.inner.fetch_tickers()

    def fetch_candles(self, symbol, timeframe, since=None, limit=500):  # type: ignore[no-untyped-def]
        return self.inner.fetch_candles(symbol, timeframe, since, limit)

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        return self.inner.fetch_closed_trades(since)  # type: ignore[attr-defined]

    def place_order(self, request):  # type: ignore[no-untyped-def]
        return self.inner.place_order(request)

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        return self.inner.place_position_protection(
            symbol, side, stop_loss=stop_loss, take_profit=take_profit, client_id=client_id
        )

    def cancel_order(self, symbol, order_id):  # type: ignore[no-untyped-def]
        return self.inner.cancel_order(symbol, order_id)

    def cancel_all_orders(self, symbol=None, *, include_protective=True):  # type: ignore[no-untyped-def]
        return self.inner.cancel_all_orders(symbol, include_protective=include_protective)

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        return self.inner.close_position(symbol, side, client_id)

    def set_leverage(self, symbol, leverage):  # type: ignore[no-untyped-def]
        return self.inner.set_leverage(symbol, leverage)


class FlakyCloses(Delegate):
    """close_position fails with a temporary error at ``rate`` (seeded, thread-safe); reads can be made to fail."""

    def __init__(self, inner: ExchangeAdapter, rate: float, seed: int):
        super().__init__(inner)
        self.rate = rate
        self.failed = 0
        self.closed = 0
        self.reads_fail = False
        self.gate: threading.Event | None = None  # when set, closes wait for it (keeps a sequence running)
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        if self.gate is not None:
            self.gate.wait(timeout=30)
        with self._lock:
            fail = self._random.random() < self.rate
            self.failed += fail
        if fail:
            raise TemporaryError("exchange busy, try again", operation="close_position")
        order = super().close_position(symbol, side, client_id)
        with self._lock:
            self.closed += 1
        return order

    def fetch_positions(self):  # type: ignore[no-untyped-def]
        if self.reads_fail:
            raise TemporaryError("connection reset", operation="fetch_positions")
        return super().fetch_positions()


@dataclass
class World:
    """An app with paper accounts (wrapped) on one SQLite file, and what a test needs to reach."""

    settings: Settings
    rt: Runtime
    adapters: dict[str, FlakyCloses]
    engine: Engine
    apps: list[Any]

    def new_app(self) -> Runtime:
        """Build another app on the same database and start it serving, as a restarted server process would."""
        app = create_app(self.settings)
        self.apps.append(app)
        serve(app)
        return app.extensions["riskmgr"]


def build_world(tmp_path, clock: FixedClock, *, rate: float = 0.3, settings: EmergencySettings = FAST) -> World:
    """Return three paper accounts, each with four positions (stop-losses on) and one resting entry order."""
    url = database_url(tmp_path)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}
                           if url.startswith("sqlite") else {})
    market = SimulatedMarket(seed=7, clock=clock, symbols=list(SYMBOLS))
    adapters = {
        name: FlakyCloses(
            PaperExchange(name, engine, market, clock, start_balance=Decimal(10000), taker_fee=Decimal("0.0005"),
                          maker_fee=Decimal("0.0002"), slippage_bps=Decimal(2)),
            rate, seed=i,
        )
        for i, name in enumerate(ACCOUNTS)
    }
    app_settings = make_settings(
        tmp_path, paper_accounts=(), feature_settings={FEATURE: settings},
        extra={"clock": clock, "market": market, "adapters": adapters},
    )
    app = create_app(app_settings)
    with app.app_context():
        db.create_all()
    for adapter in adapters.values():
        open_book(adapter.inner, market)
    return World(app_settings, app.extensions["riskmgr"], adapters, engine, [app])


def open_book(paper: ExchangeAdapter, market: SimulatedMarket) -> None:
    """Open a long or short of about 200 USDT on every symbol with a stop-loss, plus one far-away limit entry."""
    specs = market.specs()
    for i, symbol in enumerate(SYMBOLS):
        spec, last = specs[symbol], market.ticker(symbol).last
        qty = max((Decimal(200) / last / spec.qty_step).to_integral_value() * spec.qty_step, spec.min_qty)
        side = PositionSide.LONG if i % 2 == 0 else PositionSide.SHORT
        paper.place_order(OrderRequest(symbol, side.entry_order_side, OrderType.MARKET, qty))
        stop = last * (Decimal("0.9") if side is PositionSide.LONG else Decimal("1.1"))
        paper.place_position_protection(symbol, side, stop_loss=(stop / spec.price_tick).to_integral_value()
                                        * spec.price_tick)
    symbol = SYMBOLS[0]
    spec, price = specs[symbol], market.ticker(symbol).last / 2
    qty = max((Decimal(100) / price / spec.qty_step).to_integral_value() * spec.qty_step, spec.min_qty)
    paper.place_order(OrderRequest(symbol, OrderSide.BUY, OrderType.LIMIT, qty,
                                   price=(price / spec.price_tick).to_integral_value() * spec.price_tick))


@pytest.fixture
def world(tmp_path, clock):
    w = build_world(tmp_path, clock)
    yield w
    _dispose(w)


def _dispose(w: World) -> None:
    for app in w.apps:
        with app.app_context():
            db.engine.dispose()
    w.engine.dispose()


def _positions(w: World) -> list[tuple[str, str]]:
    return sorted((name, p.symbol) for name, a in w.adapters.items() for p in a.inner.fetch_positions())


class SimulatedCrash(BaseException):
    """The process dies: nothing in the sequence may catch this."""


# -- a whole sequence ---------------------------------------------------------------------------------------------
def test_emergency_stop_with_a_third_of_closes_failing_ends_flat_with_every_failure_retried_and_audited(world):
    events: list[str] = []
    world.rt.events.subscribe(lambda e: events.append(e.kind))
    svc = service(world.rt)

    result = svc.start("drill: flatten while the exchange is busy", actor="tester", trigger="test")
    view = svc.wait(result.id, timeout=60)

    assert view["status"] == "flat"
    assert _positions(world) == []
    assert all(a.inner.fetch_open_orders() == [] for a in world.adapters.values())
    failures = sum(a.failed for a in world.adapters.values())
    assert failures > 0  # the seeded 30 % really failed some closes
    closes = [o for o in view["orders"] if o["action"] == "close"]
    assert sum(not o["ok"] for o in closes) == failures
    assert sorted((o["account"], o["symbol"]) for o in closes if o["ok"]) == sorted(
        (a, s) for a in ACCOUNTS for s in SYMBOLS
    )
    assert [s["status"] for s in view["steps"]] == ["done"] * 6
    assert view["left_open"] == []
    assert events.count("emergency.started") == 1 and events.count("emergency.finished") == 1
    assert "emergency.left_open" not in events


def test_emergency_stop_audit_names_every_step_order_and_result(world):
    svc = service(world.rt)

    view = svc.wait(svc.start("audit drill", actor="tester", trigger="test").id, timeout=60)

    audit = world.rt.audit.query(limit=2000)
    kinds = Counter(e["kind"] for e in audit)
    failures = sum(a.failed for a in world.adapters.values())
    assert kinds["emergency.started"] == 1 and kinds["emergency.finished"] == 1
    assert sorted(e["data"]["step"] for e in audit if e["kind"] == "emergency.step") == [1, 2, 3, 4, 5, 6]
    sent = [e for e in audit if e["kind"] == "order.sent" and e["message"].startswith("emergency-close")]
    rejected = [e for e in audit if e["kind"] == "order.rejected" and e["message"].startswith("emergency-close")]
    assert len(sent) == len(ACCOUNTS) * len(SYMBOLS) and len(rejected) == failures
    finished = next(e for e in audit if e["kind"] == "emergency.finished")
    assert finished["actor"] == "tester" and finished["data"]["reason"] == "audit drill"
    assert finished["data"]["orders"] == view["orders"]


def test_emergency_stop_keeps_stop_losses_while_closing_and_cancels_them_once_flat(world):
    limit_ids = {name: {o.id for o in a.inner.fetch_open_orders() if not o.is_protective}
                 for name, a in world.adapters.items()}
    svc = service(world.rt)

    svc.wait(svc.start("stop drill", actor="tester", trigger="test").id, timeout=60)

    step2 = [e for e in world.rt.audit.query(kind="order.cancel_all", limit=100)
             if e["data"]["include_protective"] is False]
    assert {e["account"]: set(e["data"]["ids"]) for e in step2} == limit_ids


def test_trading_stays_halted_after_the_sequence_and_refuses_a_new_entry(world):
    svc = service(world.rt)
    svc.wait(svc.start("halt drill", actor="tester", trigger="test").id, timeout=60)

    entry = OrderRequest(SYMBOLS[1], OrderSide.BUY, OrderType.MARKET, Decimal("0.1"), stop_loss=Decimal(1))
    result = world.rt.gateway.submit("alpha", entry, actor="tester", intent_id="entry-after-the-stop")

    assert world.rt.trading.current().state is TradingState.HALTED
    assert not result.accepted
    assert "trading_state" in [v.rule for v in result.denials]
    assert world.adapters["alpha"].inner.fetch_positions() == []


# -- what is left is reported, never presented as flat -------------------------------------------------------------
def test_a_close_that_always_fails_is_reported_left_open_and_its_stop_loss_kept(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0, settings=EmergencySettings(backoff_seconds=Decimal("0.01"),
                                                                           max_rounds=3))
    try:
        w.adapters["beta"].rate = 1.0
        events: list[Any] = []
        w.rt.events.subscribe(events.append)
        svc = service(w.rt)

        view = svc.wait(svc.start("left-open drill", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "left_open"
        assert sorted((r["account"], r["symbol"]) for r in view["left_open"]) == [("beta", s) for s in sorted(SYMBOLS)]
        assert w.adapters["beta"].failed == 3 * len(SYMBOLS)  # one try in step 3, two more in step 4's rounds
        stops = [o for o in w.adapters["beta"].inner.fetch_open_orders() if o.is_stop_loss]
        assert sorted(o.symbol for o in stops) == sorted(SYMBOLS)
        assert [e.kind for e in events if e.kind.startswith("emergency.")][-1] == "emergency.left_open"
        assert w.adapters["alpha"].inner.fetch_open_orders() == []
    finally:
        _dispose(w)


def test_an_account_that_cannot_be_read_is_reported_unknown_and_keeps_its_orders(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0, settings=EmergencySettings(backoff_seconds=Decimal("0.01"),
                                                                           max_rounds=2))
    try:
        w.adapters["gamma"].reads_fail = True
        svc = service(w.rt)

        view = svc.wait(svc.start("blind drill", actor="tester", trigger="test").id, timeout=60)

        assert view["status"] == "left_open"
        assert [(r["account"], r["symbol"]) for r in view["left_open"]] == [("gamma", None)]
        assert view["left_open"][0]["reason"].startswith("positions unknown")
        assert len([o for o in w.adapters["gamma"].inner.fetch_open_orders() if o.is_stop_loss]) == len(SYMBOLS)
    finally:
        _dispose(w)


# -- restart and concurrency ---------------------------------------------------------------------------------------
def test_restart_after_step_two_resumes_in_a_new_app_and_finishes_flat(tmp_path, clock, monkeypatch):
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        svc = service(w.rt)
        seq = svc.begin("restart drill", actor="tester", trigger="test")

        def crash(*args):  # type: ignore[no-untyped-def]
            raise SimulatedCrash()

        monkeypatch.setattr(emergency_steps, "close_positions", crash)
        with pytest.raises(SimulatedCrash):
            svc.run(seq.id)
        monkeypatch.undo()
        assert svc.store.info(seq.id).steps_done == 2 and svc.store.info(seq.id).running
        assert len(_positions(w)) == len(ACCOUNTS) * len(SYMBOLS)
        clock.advance(FAST.lease_seconds + 1)  # the dead runner's heartbeat has lapsed

        restarted = service(w.new_app())
        view = restarted.wait(seq.id, timeout=60)

        assert view["status"] == "flat" and view["resumed"] == 1
        assert _positions(w) == []
        assert len([o for o in view["orders"] if o["action"] == "cancel_orders"]) == len(ACCOUNTS)  # step 2 once
        assert [e["kind"] for e in w.rt.audit.query(kind="emergency.resumed")] == ["emergency.resumed"]
    finally:
        _dispose(w)


def test_building_an_app_starts_nothing_only_serving_it_resumes_the_unfinished_stop(tmp_path, clock, monkeypatch):
    """`flask db upgrade` (or any command) builds the app too: it must not start a thread that sends orders."""
    w = build_world(tmp_path, clock, rate=0.0)
    try:
        svc = service(w.rt)
        seq = svc.begin("command drill", actor="tester", trigger="test")
        monkeypatch.setattr(emergency_steps, "close_positions", lambda *a: (_ for _ in ()).throw(SimulatedCrash()))
        with pytest.raises(SimulatedCrash):
            svc.run(seq.id)
        monkeypatch.undo()
        clock.advance(FAST.lease_seconds + 1)  # the dead runner's heartbeat has lapsed

        app = create_app(w.settings)  # as `flask db upgrade` would
        w.apps.append(app)
        time.sleep(0.5)
        assert not [t for t in threading.enumerate() if t.name == "emergency-resume"]
        assert svc.store.info(seq.id).steps_done == 2 and len(_positions(w)) == len(ACCOUNTS) * len(SYMBOLS)

        serve(app)  # gunicorn's post_worker_init / `flask scheduler run`
        view = service(app.extensions["riskmgr"]).wait(seq.id, timeout=60)
        assert view["status"] == "flat" and view["resumed"] == 1 and _positions(w) == []
    finally:
        _dispose(w)


def test_a_live_runner_is_not_taken_over(world):
    svc = service(world.rt)
    seq = svc.begin("lease drill", actor="tester", trigger="test")
    other = EmergencyService(world.rt, FAST)  # another process, while the owner's heartbeat is fresh

    assert other.resume_unfinished(wait=False) == seq.id
    assert svc.store.info(seq.id).owner == svc.owner
    svc.run(seq.id)


def test_concurrent_triggers_from_two_processes_run_one_sequence(world):
    gate = threading.Event()
    for adapter in world.adapters.values():
        adapter.gate = gate  # the first sequence stays running until every trigger has been answered
    services = [service(world.rt), EmergencyService(world.rt, FAST)] * 4  # two processes' services, racing
    barrier = threading.Barrier(len(services), timeout=10)
    results = []
    lock = threading.Lock()

    def trigger(svc: EmergencyService) -> None:
        barrier.wait()
        outcome = svc.start("double click", actor="tester", trigger="test")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=trigger, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    gate.set()

    assert len(results) == len(services)
    assert len({r.id for r in results}) == 1
    assert sum(not r.already_running for r in results) == 1
    assert service(world.rt).wait(results[0].id, timeout=60)["status"] == "flat"
    with Session(world.engine) as session:
        assert session.scalar(select(func.count(EmergencySequence.id))) == 1
    assert len(world.rt.audit.query(kind="emergency.already_running")) == len(services) - 1
    assert sum(a.closed for a in world.adapters.values()) == len(ACCOUNTS) * len(SYMBOLS)  # each closed once


def test_a_new_trigger_after_a_finished_sequence_starts_a_new_one(world):
    svc = service(world.rt)
    first = svc.start("first", actor="tester", trigger="test")
    svc.wait(first.id, timeout=60)

    second = svc.start("second", actor="tester", trigger="test")

    assert second.id != first.id and not second.already_running
    assert svc.wait(second.id, timeout=60)["status"] == "flat"


def test_rearm_is_refused_while_a_sequence_is_still_running(runtime):
    from riskmgr.core.errors import ValidationError
    from riskmgr.risk.emergency.feature import service

    svc = service(runtime)
    svc.store.running_id = lambda: 7  # a sequence still holds the running slot
    with pytest.raises(ValidationError, match="#7 is still running"):
        runtime.trading.rearm("looked at it, all fine", "operator")
