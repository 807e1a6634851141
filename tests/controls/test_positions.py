"""Position controls on real paper positions: stop moves, break-even, widening judged, partial close, cancel, close."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.watchdog import watchdog
from riskmgr.controls.service import controls
from riskmgr.core.domain import AccountStatus, PositionSide, TradingState
from riskmgr.core.errors import ValidationError
from tests.controls.helpers import BTC, advance_until_profit, open_position, position, protection, stops

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
ETH = "ETH/USDT:USDT"


def move(runtime, side=LONG, *, stop=None, target=None, break_even=False, intent="m-1"):
    return controls(runtime).move_protection("paper", BTC, side, stop_loss=stop, take_profit=target,
                                             break_even=break_even, actor="test", intent_id=intent)


# -- move stop / target -----------------------------------------------------------------------------------------
def test_move_stop_tighter_then_the_paper_book_holds_exactly_one_stop_at_the_new_trigger(runtime):
    p = open_position(runtime)
    new_stop = (p.mark_price * D("0.99")).quantize(D("0.1"))

    outcome = move(runtime, stop=new_stop)

    assert outcome.accepted, outcome.message
    assert [o.trigger_price for o in stops(runtime)] == [new_stop]
    assert protection(runtime).take_profit == D(outcome.details["old_target"])  # the target stayed


def test_move_target_keeps_the_stop_and_moves_only_the_target(runtime):
    p = open_position(runtime)
    before = protection(runtime)
    target = (p.mark_price * D("1.05")).quantize(D("0.1"))

    outcome = move(runtime, target=target)

    assert outcome.accepted and outcome.action == "move-target"
    after = protection(runtime)
    assert after.stop_loss == before.stop_loss and after.take_profit == target


@pytest.mark.parametrize(("side", "factor", "words"),
                         [(LONG, "1.01", "below the mark"), (SHORT, "0.99", "above the mark")])
def test_stop_on_the_profit_side_of_the_mark_is_refused_naming_the_field_and_the_range(runtime, side, factor, words):
    p = open_position(runtime, side)

    with pytest.raises(ValidationError) as err:
        move(runtime, side, stop=p.mark_price * D(factor))

    assert err.value.field == "stop_loss" and words in err.value.message and "allowed" in err.value.message


def test_target_on_the_loss_side_of_the_mark_is_refused(runtime):
    p = open_position(runtime)

    with pytest.raises(ValidationError) as err:
        move(runtime, target=p.mark_price * D("0.98"))

    assert err.value.field == "take_profit" and "above the mark" in err.value.message


def test_break_even_before_the_position_is_in_profit_is_refused_with_the_costs_named(runtime):
    open_position(runtime)

    with pytest.raises(ValidationError) as err:
        move(runtime, break_even=True)

    assert err.value.field == "break_even" and "costs" in err.value.message and "not far enough" in err.value.message


@pytest.mark.parametrize(("side", "symbol", "qty"), [(LONG, BTC, "0.003"), (SHORT, ETH, "0.05")])
def test_break_even_puts_the_stop_at_entry_plus_costs_rounded_to_the_tick_on_the_safe_side(runtime, clock, side,
                                                                                          symbol, qty):
    open_position(runtime, side, qty=qty, symbol=symbol)
    p = advance_until_profit(runtime, clock, side, symbol=symbol)
    tick = runtime.gateway.spec("paper", symbol).price_tick

    outcome = controls(runtime).move_protection("paper", symbol, side, stop_loss=None, take_profit=None,
                                                break_even=True, actor="test", intent_id="be")

    assert outcome.accepted, outcome.message
    [stop] = [o.trigger_price for o in stops(runtime, symbol)]
    costs = D(outcome.details["break_even_costs_per_unit"])
    assert costs > 0
    if side is LONG:  # rounded up: never below entry + costs
        assert p.entry_price + costs <= stop < p.entry_price + costs + tick
    else:  # rounded down: never above entry - costs
        assert p.entry_price - costs - tick < stop <= p.entry_price - costs
    assert stop % tick == 0


def test_widening_the_stop_within_the_risk_limit_is_allowed(runtime):
    p = open_position(runtime)
    wider = (p.entry_price * D("0.95")).quantize(D("0.1"))

    outcome = move(runtime, stop=wider)

    assert outcome.accepted and stops(runtime)[0].trigger_price == wider


def test_widening_the_stop_past_the_risk_per_trade_limit_is_denied_and_the_old_stop_stays(runtime):
    p = open_position(runtime, qty="0.03", stop_pct="1", target_pct="3")
    before = stops(runtime)[0].trigger_price
    runtime.limits_store.update({"risk_per_trade_pct": "0.2"}, "test")  # 20 USDT of 10000
    wider = (p.entry_price * D("0.97")).quantize(D("0.1"))  # 0.03 BTC losing ~3 % of ~32000: ~29 USDT

    outcome = move(runtime, stop=wider)

    assert not outcome.accepted
    assert [v.rule for v in outcome.verdicts if not v.allowed] == ["risk_per_trade"]
    assert "above the limit 0.2 %" in outcome.message
    assert [o.trigger_price for o in stops(runtime)] == [before]
    assert any(e["kind"] == "order.denied" and "move-stop" in e["message"] for e in runtime.audit.query())


def test_widening_the_stop_while_reducing_is_denied_but_tightening_is_allowed(runtime):
    p = open_position(runtime)
    runtime.trading.escalate(TradingState.REDUCING, "test", "test")

    wider = move(runtime, stop=(p.entry_price * D("0.95")).quantize(D("0.1")), intent="w")
    tighter = move(runtime, stop=(p.mark_price * D("0.99")).quantize(D("0.1")), intent="t")

    assert not wider.accepted and [v.rule for v in wider.verdicts if not v.allowed] == ["trading_state"]
    assert tighter.accepted


def test_widening_on_stale_account_data_is_denied(runtime, clock):
    p = open_position(runtime)
    clock.advance(seconds=runtime.limits().stale_after_seconds + 5)  # no poll since: the picture is old

    outcome = move(runtime, stop=(p.entry_price * D("0.95")).quantize(D("0.1")))

    assert not outcome.accepted and [v.rule for v in outcome.verdicts if not v.allowed] == ["data_fresh"]


def test_two_threads_moving_the_stop_at_once_leave_exactly_one_stop(runtime):
    p = open_position(runtime)
    levels = [(p.mark_price * D(f)).quantize(D("0.1")) for f in ("0.99", "0.985")]
    results = []

    def worker(i: int) -> None:
        results.append(move(runtime, stop=levels[i], intent=f"race-{i}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(r.accepted for r in results)
    assert len(stops(runtime)) == 1 and stops(runtime)[0].trigger_price in levels


def test_the_watchdog_restores_a_lost_stop_at_the_level_the_operator_moved_it_to(runtime, clock):
    p = open_position(runtime)
    clock.advance(seconds=2)  # the watchdog takes the newest plan sent through the gate: the move is newer
    moved = (p.mark_price * D("0.985")).quantize(D("0.1"))
    assert move(runtime, stop=moved).accepted
    runtime.gateway._adapter("paper").cancel_order(BTC, stops(runtime)[0].id)  # the venue lost it
    clock.advance(seconds=5)

    watchdog(runtime).check(_poll(runtime))  # the poll's own hook ran it already; a second check changes nothing

    assert [o.trigger_price for o in stops(runtime)] == [moved]


# -- partial close ------------------------------------------------------------------------------------------------
def test_partial_close_by_percent_leaves_the_rest_with_its_stop_covering_it(runtime, clock):
    open_position(runtime, qty="0.004")
    before = protection(runtime)
    clock.advance(seconds=5)

    outcome = controls(runtime).partial_close("paper", BTC, LONG, percent=D(50), qty=None, actor="test",
                                              intent_id="pc")

    assert outcome.accepted, outcome.message
    assert position(runtime).size == D("0.002")
    after = protection(runtime)
    assert after.stop_covers_full_size and after.stop_loss == before.stop_loss
    assert outcome.details["fill_price"] is not None and outcome.details["realized_pnl"] is not None
    assert "0.002 BTC left" in outcome.message


def test_partial_close_by_size_rounds_down_to_the_lot_step(runtime, clock):
    open_position(runtime, qty="0.004")
    clock.advance(seconds=5)

    outcome = controls(runtime).partial_close("paper", BTC, LONG, percent=None, qty=D("0.0019"), actor="test",
                                              intent_id="pc")

    assert outcome.accepted and outcome.details["closed_qty"] == "0.001"
    assert position(runtime).size == D("0.003")


@pytest.mark.parametrize(("qty", "words"), [("0.0004", "rounds down to 0"), ("0.01", "more than the position")])
def test_partial_close_size_out_of_range_is_refused_naming_qty(runtime, qty, words):
    open_position(runtime)

    with pytest.raises(ValidationError) as err:
        controls(runtime).partial_close("paper", BTC, LONG, percent=None, qty=D(qty), actor="test", intent_id="x")

    assert err.value.field == "qty" and words in err.value.message
    assert position(runtime).size == D("0.003")


def test_partial_close_of_100_percent_closes_the_position(runtime, clock):
    open_position(runtime)
    clock.advance(seconds=5)

    outcome = controls(runtime).partial_close("paper", BTC, LONG, percent=D(100), qty=None, actor="test",
                                              intent_id="all")

    assert outcome.accepted and outcome.action == "close" and position(runtime) is None


# -- cancel -------------------------------------------------------------------------------------------------------
def test_cancelling_the_last_stop_of_an_open_position_is_refused_and_the_stop_stays(runtime):
    open_position(runtime)
    stop = stops(runtime)[0]

    outcome = controls(runtime).cancel("paper", stop.id, actor="test")

    assert not outcome.accepted and "last stop-loss" in outcome.message
    assert [o.id for o in stops(runtime)] == [stop.id]
    assert any(e["kind"] == "order.cancel_refused" for e in runtime.audit.query())


def test_cancelling_the_take_profit_is_allowed_and_audited(runtime):
    open_position(runtime)
    target = next(o for o in runtime.accounts["paper"].fetch_open_orders() if o.is_take_profit)

    outcome = controls(runtime).cancel("paper", target.id, actor="test")

    assert outcome.accepted
    assert protection(runtime).take_profit is None and protection(runtime).stop_covers_full_size
    assert any(e["kind"] == "order.cancel" and target.id in e["message"] for e in runtime.audit.query())


def test_cancelling_an_unknown_order_names_the_order_id(runtime):
    open_position(runtime)

    with pytest.raises(ValidationError) as err:
        controls(runtime).cancel("paper", "no-such-order", actor="test")

    assert err.value.field == "order_id"


# -- close with feedback and pause --------------------------------------------------------------------------------
def test_close_reports_the_fill_price_and_the_realized_pnl_from_the_venue(runtime, clock):
    p = open_position(runtime)
    clock.advance(seconds=5)

    outcome = controls(runtime).close("paper", BTC, LONG, actor="test", intent_id="c")

    assert outcome.accepted and position(runtime) is None
    fill, pnl = D(outcome.details["fill_price"]), D(outcome.details["realized_pnl"])
    assert fill > 0
    gross = (fill - p.entry_price) * p.size
    assert pnl < gross  # fees were taken off
    assert f"at {fill.normalize():f}" in outcome.message and "realized P&L" in outcome.message


def test_paused_account_denies_entries_with_the_pause_named_but_allows_stop_moves_and_closes(runtime, clock):
    p = open_position(runtime)
    from riskmgr.controls.service import switches

    switches(runtime).set_paused("paper", True, reason="lunch", by="test")
    entry = _entry(runtime)
    moved = move(runtime, stop=(p.mark_price * D("0.99")).quantize(D("0.1")))
    clock.advance(seconds=5)
    closed = controls(runtime).close("paper", BTC, LONG, actor="test", intent_id="c")

    assert not entry.accepted
    denial = next(v for v in entry.verdicts if not v.allowed)
    assert denial.rule == "entries_paused" and "paused" in denial.reason and "lunch" in denial.reason
    assert moved.accepted and closed.accepted
    assert runtime.trading.current().state is TradingState.ACTIVE  # a pause is not a trading state


def test_resumed_account_accepts_entries_again(runtime):
    from riskmgr.controls.service import switches

    poll_cycle(runtime)
    switches(runtime).set_paused("paper", True, reason="", by="test")
    switches(runtime).set_paused("paper", False, reason="", by="test")

    assert _entry(runtime).accepted
    kinds = [e["kind"] for e in runtime.audit.query()]
    assert "account.entries_paused" in kinds and "account.entries_resumed" in kinds


def _entry(runtime):
    from riskmgr.core.domain import OrderRequest, OrderType

    mark = runtime.accounts["paper"].fetch_tickers()[BTC].mark
    request = OrderRequest(BTC, LONG.entry_order_side, OrderType.MARKET, D("0.002"), leverage=3,
                           stop_loss=mark * D("0.97"), take_profit=mark * D("1.06"))
    return runtime.gateway.submit("paper", request, actor="test", intent_id="entry-2")


def _poll(runtime):
    poll_cycle(runtime)
    snaps = list(runtime.snapshots.latest().values())
    assert all(s.status is AccountStatus.OK for s in snaps)
    return snaps
