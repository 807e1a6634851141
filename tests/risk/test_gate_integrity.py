"""The gate holds as an attacker would test it: resting orders, concurrent entries (threads and processes) against a
lagging venue, an emergency stop racing an entry, and state changes that must cancel what may still fill.

Everything runs on the real paper venue with every rule on; the only thing added is venue latency.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from riskmgr import create_app
from riskmgr.accounts import services
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.app import features
from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide, TradingState
from riskmgr.market.sim.specs import SIM_SYMBOLS
from riskmgr.persistence.extensions import db
from riskmgr.risk.emergency.service import EmergencyService
from riskmgr.risk.gateway import OrderGateway
from tests.conftest import T0, database_url, make_settings
from tests.support.paper_gate import lag, open_entry_slots, race, resting_buy

D = Decimal
SYMBOLS = [s.spec.symbol for s in SIM_SYMBOLS]


@pytest.fixture
def polled(runtime):
    poll_cycle(runtime)
    return runtime


# -- resting orders count --------------------------------------------------------------------------------------------
def test_seven_resting_buys_on_seven_symbols_then_only_five_are_accepted(polled):
    results = [polled.gateway.submit("paper", resting_buy(polled, s), actor="t", intent_id=f"r{i}")
               for i, s in enumerate(SYMBOLS[:7])]

    accepted = [r for r in results if r.accepted]
    assert len(accepted) == 5
    assert [d.rule for d in results[5].denials] == ["max_open_positions"]
    assert "5 open → 6 of at most 5 positions" in results[5].message or "5 resting or in flight" in results[5].message
    assert len(open_entry_slots(polled)) == 5


def test_three_900_usdt_resting_buys_on_one_symbol_then_the_second_is_denied_by_the_notional_cap(polled):
    symbol = SYMBOLS[0]
    results = [polled.gateway.submit("paper", resting_buy(polled, symbol, notional="900"), actor="t",
                                     intent_id=f"n{i}") for i in range(3)]

    assert [r.accepted for r in results] == [True, False, False]
    assert "max_position_notional" in {d.rule for d in results[1].denials}
    reason = next(d.reason for d in results[1].denials if d.rule == "max_position_notional")
    assert "(existing 0.00 + resting/in flight 893.33 + new 893.33)" in reason


def test_the_receipt_shows_the_split_of_open_and_resting(polled):
    for i, symbol in enumerate(SYMBOLS[:2]):
        assert polled.gateway.submit("paper", resting_buy(polled, symbol), actor="t", intent_id=f"s{i}").accepted

    receipt = polled.pretrade.receipt("paper", resting_buy(polled, SYMBOLS[2]), size=False)

    assert receipt["figures"]["open_positions"]["split"] == "0 open + 2 resting or in flight"
    assert receipt["figures"]["open_positions"]["after"] == 3


# -- concurrency: threads ------------------------------------------------------------------------------------------
def submit_all(runtime: Any, requests: list[OrderRequest], prefix: str) -> list[bool]:
    """Send every request at once from its own thread; return which were accepted."""
    results = race(len(requests), lambda i: runtime.gateway.submit("paper", requests[i], actor="t",
                                                                   intent_id=f"{prefix}{i}").accepted)
    return [bool(r) for r in results]


def test_twelve_concurrent_entries_on_twelve_symbols_with_30ms_latency_then_at_most_five_are_accepted(polled):
    requests = [resting_buy(polled, s) for s in SYMBOLS[:12]]
    lag(polled.specs.adapter("paper"), 0.03)

    accepted = submit_all(polled, requests, "c")

    assert sum(accepted) == 5
    assert len(open_entry_slots(polled)) == 5


def test_concurrent_entries_on_one_symbol_never_pass_the_notional_cap(polled):
    requests = [resting_buy(polled, SYMBOLS[1], notional="400") for _ in range(8)]
    lag(polled.specs.adapter("paper"), 0.03)

    accepted = submit_all(polled, requests, "n")

    assert sum(accepted) == 2  # 2 x 400 = 800 fits 1000 USDT; a third would be 1200
    resting = [o for o in polled.specs.adapter("paper").fetch_open_orders() if not o.is_protective]
    assert sum(o.qty * o.price for o in resting) <= D(1000)


# -- concurrency: two processes ------------------------------------------------------------------------------------
def _child(db_url: str, instance: str, symbols: list[str], prefix: str, start_at: float, out: Any) -> None:
    from pathlib import Path

    settings = make_settings(Path(instance).parent, extra={"clock": FixedClock(T0)})
    settings = settings.with_changes(database_url=db_url, instance_path=Path(instance))
    app = create_app(settings)
    runtime = app.extensions["riskmgr"]
    requests = [resting_buy(runtime, s) for s in symbols]
    lag(runtime.specs.adapter("paper"), 0.03)
    time.sleep(max(0.0, start_at - time.time()))
    out.put(submit_all(runtime, requests, prefix))


def test_two_processes_racing_six_entries_each_then_at_most_five_are_accepted(polled, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    db_url = database_url(tmp_path)
    start_at = time.time() + 8  # both children have built their app by then (spawn imports take a few seconds)
    procs = [
        ctx.Process(target=_child, args=(db_url, str(tmp_path / f"inst{n}"), SYMBOLS[n * 6:(n + 1) * 6], f"p{n}-",
                                         start_at, out))
        for n in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    assert sum(sum(r) for r in results) == 5
    assert len(open_entry_slots(polled)) == 5


# -- the emergency stop fences the gate ----------------------------------------------------------------------------
def test_an_entry_judged_just_before_an_emergency_stop_is_closed_before_flat_is_declared(polled):
    paper = polled.specs.adapter("paper")
    sending = threading.Event()
    original = paper.place_order

    def slow_place(request: OrderRequest) -> Any:
        sending.set()
        time.sleep(0.5)  # the verdict is in, the send is on the wire when the stop is pressed
        return original(request)

    paper.place_order = slow_place
    mark = polled.accounts["paper"].fetch_tickers()[SYMBOLS[0]].mark
    entry = OrderRequest(SYMBOLS[0], OrderSide.BUY, OrderType.MARKET, D(100) / mark, leverage=3,
                         stop_loss=mark * D("0.97"), take_profit=mark * D("1.09"))
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(
        polled.gateway.submit("paper", entry, actor="t", intent_id="race")))
    worker.start()
    assert sending.wait(5)

    emergency = polled.feature(EmergencyService)
    started = emergency.start("test: race an entry", actor="t", trigger="manual")
    view = emergency.wait(started.id, timeout=60)
    worker.join(timeout=30)

    assert results and results[0].accepted  # it was judged before the HALT, so it went out...
    assert paper.fetch_positions() == []  # ...and the stop closed it before declaring flat
    assert view["left_open"] == [] and view["status"] != "running"
    assert polled.trading.current().state is TradingState.HALTED


def test_after_halted_no_entry_can_start_even_with_a_verdict_read_before_it(polled):
    request = resting_buy(polled, SYMBOLS[0])
    prepared = polled.pretrade.prepare("paper", polled.gateway.rounded("paper", request))
    assert all(v.allowed for v in prepared.judge([], TradingState.ACTIVE).verdicts)

    polled.trading.escalate(TradingState.HALTED, "test", "t")
    result = polled.gateway.submit("paper", request, actor="t", intent_id="late")

    assert not result.accepted and result.denials[0].rule == "trading_state"
    assert polled.specs.adapter("paper").fetch_open_orders() == []


# -- state changes cancel entries ----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [TradingState.REDUCING, TradingState.HALTED])
def test_a_move_down_cancels_every_resting_entry_and_keeps_the_stops(polled, state):
    paper = polled.specs.adapter("paper")
    for i, symbol in enumerate(SYMBOLS[:3]):
        assert polled.gateway.submit("paper", resting_buy(polled, symbol), actor="t", intent_id=f"e{i}").accepted
    mark = polled.accounts["paper"].fetch_tickers()[SYMBOLS[4]].mark
    market = OrderRequest(SYMBOLS[4], OrderSide.BUY, OrderType.MARKET, D(100) / mark, leverage=3,
                          stop_loss=mark * D("0.97"), take_profit=mark * D("1.09"))
    assert polled.gateway.submit("paper", market, actor="t", intent_id="m").accepted
    stops_before = [o for o in paper.fetch_open_orders() if o.is_protective]

    polled.trading.escalate(state, "test", "t")

    left = paper.fetch_open_orders()
    assert [o for o in left if not o.is_protective] == []
    assert {o.id for o in left} == {o.id for o in stops_before} and stops_before
    [event] = polled.audit.query(kind="order.entries_cancelled")
    assert f"trading moved to {state.value}" in event["message"] and "cancelled 3 resting entry order(s)" in \
        event["message"]
    shown = services.snapshot_view(polled)["entry_cancellations"]  # the dashboard's banner reads this
    assert [(c["account"], c["failed"]) for c in shown] == [("paper", False)] and shown[0]["message"] == \
        event["message"]


def test_a_poll_cancels_entries_resting_while_the_daily_loss_limit_is_reached(polled):
    from sqlalchemy.orm import Session

    from riskmgr.persistence.models import AccountState

    assert polled.gateway.submit("paper", resting_buy(polled, SYMBOLS[0]), actor="t", intent_id="d").accepted
    with Session(polled.engine) as session, session.begin():
        row = session.get(AccountState, "paper")
        row.day_start_equity = row.day_start_equity * D("1.05")  # the day opened 5 % higher: limit 3 % reached

    poll_cycle(polled, features.poll_hooks())

    assert [o for o in polled.specs.adapter("paper").fetch_open_orders() if not o.is_protective] == []
    [event] = polled.audit.query(kind="order.entries_cancelled")
    assert "daily loss limit" in event["message"]


# -- no rules, no risk ---------------------------------------------------------------------------------------------
def test_a_gateway_built_without_a_risk_check_denies_new_risk_and_still_closes(polled):
    paper = polled.specs.adapter("paper")
    bare = OrderGateway({"paper": paper}, polled.engine, polled.trading, polled.audit, polled.clock, risk_check=None)

    result = bare.submit("paper", resting_buy(polled, SYMBOLS[0]), actor="t", intent_id="bare")

    assert not result.accepted
    assert [(d.rule, d.reason) for d in result.denials] == [
        ("risk_rules", "no risk check is installed in this gateway: new risk is denied")]
    assert paper.fetch_open_orders() == []


def test_the_risk_check_is_a_required_argument():
    with pytest.raises(TypeError):
        OrderGateway({}, None, None, None, None)  # type: ignore[call-arg, arg-type]


def test_fresh_apps_share_one_database_without_a_first_use_race(tmp_path):
    app = create_app(make_settings(tmp_path))
    with app.app_context():
        db.create_all()
    assert app.extensions["riskmgr"].trading.current().state is TradingState.ACTIVE


# -- adding to a position keeps it protected -----------------------------------------------------------------------
def market_buy(runtime: Any, symbol: str, notional: str, stop_pct: str, target_pct: str) -> OrderRequest:
    mark = runtime.accounts["paper"].fetch_tickers()[symbol].mark
    return OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, D(notional) / mark, leverage=3,
                        stop_loss=mark * (1 - D(stop_pct) / 100), take_profit=mark * (1 + D(target_pct) / 100))


def test_a_market_add_replaces_the_stop_so_one_stop_covers_the_whole_position(polled):
    paper = polled.specs.adapter("paper")
    symbol = SYMBOLS[2]
    first = polled.gateway.submit("paper", market_buy(polled, symbol, "200", "3", "9"), actor="t", intent_id="a1")
    assert first.accepted and first.protection.accepted

    add = polled.gateway.submit("paper", market_buy(polled, symbol, "200", "2", "8"), actor="t", intent_id="a2")

    assert add.accepted and add.protection is not None and add.protection.accepted, add.message
    assert add.unwind is None  # the position was never closed to make room for the new stop
    [position] = paper.fetch_positions()
    stops = [o for o in paper.fetch_open_orders() if o.is_stop_loss]
    targets = [o for o in paper.fetch_open_orders() if o.is_take_profit]
    assert len(stops) == 1 and stops[0].close_position  # one stop for the whole (doubled) position
    assert stops[0].trigger_price == add.protection.order.trigger_price
    assert len(targets) == 1
    assert position.size == first.order.filled_qty + add.order.filled_qty


def test_a_poll_cancels_entries_resting_while_a_losing_streak_cooldown_runs(polled):
    paper = polled.specs.adapter("paper")
    assert polled.gateway.submit("paper", resting_buy(polled, SYMBOLS[0]), actor="t", intent_id="s").accepted
    symbol = SYMBOLS[3]
    mark = polled.accounts["paper"].fetch_tickers()[symbol].mark
    for _ in range(3):  # three round trips at the same mark: each loses its fees, a losing streak of three
        qty = polled.gateway.rounded("paper", OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, D(50) / mark)).qty
        paper.place_order(OrderRequest(symbol, OrderSide.BUY, OrderType.MARKET, qty))
        paper.close_position(symbol, PositionSide.LONG)

    poll_cycle(polled, features.poll_hooks())

    assert [o for o in paper.fetch_open_orders() if not o.is_protective] == []
    [event] = polled.audit.query(kind="order.entries_cancelled")
    assert "3 losing closes in a row started a cooldown" in event["message"]
