"""The CLI of the controls: each command acts through the gate, exit 1 with the reason when refused."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.controls.service import switches
from tests.controls.helpers import BTC, open_position, position, stops

D = Decimal


def test_positions_move_stop_then_partial_close_then_close(runtime, runner, clock):
    p = open_position(runtime, qty="0.004")
    new_stop = str((p.mark_price * D("0.99")).quantize(D("0.1")))

    moved = runner.invoke(args=["positions", "move-stop", "paper", BTC, "long", "--stop", new_stop])
    clock.advance(seconds=5)
    partial = runner.invoke(args=["positions", "partial-close", "paper", BTC, "long", "--percent", "50"])
    clock.advance(seconds=5)
    closed = runner.invoke(args=["positions", "close", "paper", BTC, "long"])

    assert moved.exit_code == 0 and f"→ {new_stop}" in moved.output
    assert partial.exit_code == 0 and "closed 0.002 of 0.004 BTC" in partial.output
    assert closed.exit_code == 0 and "realized P&L" in closed.output
    assert position(runtime) is None


def test_move_stop_to_the_wrong_side_exits_1_naming_the_field(runtime, runner):
    p = open_position(runtime)

    res = runner.invoke(args=["positions", "move-stop", "paper", BTC, "long", "--stop", str(p.mark_price * 2)])

    assert res.exit_code == 1 and "stop_loss" in res.output and "allowed" in res.output


def test_orders_cancel_of_the_last_stop_exits_1_and_keeps_it(runtime, runner):
    open_position(runtime)
    (stop,) = stops(runtime)

    res = runner.invoke(args=["orders", "cancel", "paper", stop.id])

    assert res.exit_code == 1 and "last stop-loss" in res.output
    assert [o.id for o in stops(runtime)] == [stop.id]


def test_accounts_pause_resume_and_auto_trading(runtime, runner):
    paused = runner.invoke(args=["accounts", "pause", "paper", "--reason", "lunch"])
    assert paused.exit_code == 0 and switches(runtime).get("paper").entries_paused

    resumed = runner.invoke(args=["accounts", "resume", "paper"])
    off = runner.invoke(args=["accounts", "auto-trading", "paper", "off"])
    shown = runner.invoke(args=["accounts", "controls"])

    assert resumed.exit_code == 0 and not switches(runtime).get("paper").entries_paused
    assert off.exit_code == 0 and "auto-trading on paper: off" in off.output
    assert "entries allowed" in shown.output and "auto-trading off" in shown.output
    assert runner.invoke(args=["accounts", "pause", "nope"]).exit_code == 1
