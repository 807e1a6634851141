"""Hand-computed scenarios of the signal engine: fills, fees, stops, targets, liquidation and the risk engine."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest.engine import EngineInput, run_events
from riskmgr.backtest.outcome import Outcome
from riskmgr.core.errors import ValidationError
from riskmgr.exchanges.fills import FillModel
from riskmgr.risk.config import RiskLimits
from tests.backtest.helpers import SPEC, bar_by_bar, candles, config, signals

D = Decimal
WIDE = RiskLimits().with_changes(max_position_notional=D(100000))
FLAT = (100.0, 100.5, 99.5, 100.0)


def run(rows, entries, **changes) -> Outcome:
    """Run the engine and the bar-by-bar oracle; they must agree before anything else is checked."""
    changes.setdefault("limits", WIDE)
    inp = EngineInput(candles(rows), SPEC, config(**changes))
    sig = signals(len(rows), entries)
    fast, slow = run_events(inp, sig), bar_by_bar(inp, sig)
    assert fast.trades.rows() == slow.trades.rows()
    assert fast.final_equity == slow.final_equity
    assert fast.events == slow.events
    assert np.array_equal(fast.equity, slow.equity)
    return fast


def test_long_trade_with_fees_fills_at_next_open_and_takes_profit_at_the_target():
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101.5, 104.5, 101, 104), FLAT]
    # signal at bar 0's close 100: stop 98, target 104; the loss per unit at the stop is 2 + fees (100 + 98) x 0.001
    # = 2.198, so the 150 USDT risk budget buys 68.2439 -> 68.24 units
    o = run(rows, {0: (1, 98.0, 104.0)}, fill=FillModel(D("0.001"), D(0), D(0)))

    [trade] = o.trades.rows()
    assert trade["entry_price"] == "101" and trade["qty"] == "68.24"
    assert trade["exit_price"] == "104" and trade["exit_reason"] == "take_profit"
    assert trade["gross_pnl"] == "204.72"  # (104 - 101) x 68.24
    assert trade["fees"] == "13.9892"  # 101 x 68.24 x 0.001 + 104 x 68.24 x 0.001
    assert trade["net_pnl"] == "190.7308"
    assert o.final_equity == D("10190.7308")
    assert o.fees_paid() == D("13.9892")


def test_stop_hit_fills_at_the_stop_with_slippage_against_us_and_ticks_rounded_against_us():
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101, 101.5, 97.5, 98), FLAT]
    o = run(rows, {0: (1, 98.0, 104.0)}, fill=FillModel(D("0.001"), D(0), D(10)))

    # per unit at the stop: 2 + slippage 198 x 0.001 + 2 ticks = 0.218 + fees 198.218 x 0.001 = 0.198218 -> 2.416218;
    # 150 / 2.416218 = 62.08 units
    [trade] = o.trades.rows()
    assert trade["qty"] == "62.08"
    assert trade["entry_price"] == "101.11"  # 101 x 1.001 = 101.101, rounded up to the 0.01 tick
    assert trade["exit_price"] == "97.9"  # 98 x 0.999 = 97.902, rounded down
    assert trade["exit_reason"] == "stop_loss"
    assert trade["gross_pnl"] == "-199.2768"  # (97.90 - 101.11) x 62.08
    assert trade["net_pnl"] == "-211.6313408"  # minus 6.2769088 and 6.077632 of fees
    assert o.final_equity == D("9788.3686592")


def test_bar_reaching_both_stop_and_target_fills_the_stop():
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101, 105, 97, 102), FLAT]
    o = run(rows, {0: (1, 98.0, 104.0)})

    [trade] = o.trades.rows()
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_price"] == "98"
    assert trade["net_pnl"] == "-225"  # (98 - 101) x 75, no fees


def test_stop_and_target_may_fire_in_the_entry_bar():
    rows = [(100, 101, 99, 100), (101, 104.2, 100.5, 103), FLAT]
    o = run(rows, {0: (1, 98.0, 104.0)})

    [trade] = o.trades.rows()
    assert (trade["entry_time"], trade["exit_time"]) == ("2025-03-03T01:00:00+00:00", "2025-03-03T01:00:00+00:00")
    assert trade["exit_reason"] == "take_profit" and trade["bars"] == 1


def test_gap_past_stop_and_liquidation_liquidates_and_costs_exactly_the_margin():
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (45, 46, 44, 45), (45, 46, 44, 45)]
    o = run(rows, {0: (1, 98.0, 104.0)}, fill=FillModel(D("0.001"), D(0), D(0)), leverage=2)

    [trade] = o.trades.rows()
    assert trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == "45"  # the open of the bar that gapped through
    # 68.24 units (fees in the sizing, see above): 101 x 68.24 / 2; 101 x 68.24 x 0.005; x 0.001
    margin, maintenance, entry_fee = D("3446.12"), D("34.4612"), D("6.89224")
    assert trade["gross_pnl"] == str(maintenance - margin)
    assert D(trade["net_pnl"]) == maintenance - margin - maintenance - entry_fee
    assert o.final_equity == D(10000) - entry_fee - margin
    # a 38 % loss: past the daily loss limit, and the max drawdown tier halts trading
    assert [e.kind for e in o.events] == ["daily_loss", "halted"]


def test_a_contract_without_a_maintenance_rate_is_refused_before_the_first_bar():
    inp = EngineInput(candles([FLAT, FLAT]), replace(SPEC, maintenance_margin_rate=None), config())

    with pytest.raises(ValidationError) as caught:
        run_events(inp, signals(2, {}))

    assert caught.value.field == "maintenance_margin_rate"


def test_daily_loss_limit_blocks_entries_for_the_rest_of_the_day_then_trading_resumes():
    limits = WIDE.with_changes(daily_loss_limit_pct=D(1), risk_per_trade_pct=D(1))
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101, 101.5, 97.5, 98)] + [FLAT] * 27
    # 1 % of 10000 over a stop distance of 2 = 50 units; the stop loses (98 - 101) x 50 = 150, 1.5 %
    o = run(rows, {0: (1, 98.0, 104.0), 3: (1, 98.0, 104.0), 10: (1, 98.0, 104.0), 23: (1, 98.0, 104.0)},
            limits=limits)

    assert [t["exit_reason"] for t in o.trades.rows()] == ["stop_loss"]
    assert o.denials["daily_loss"].count == 2  # the signals of bars 3 and 10, the same UTC day
    assert "new risk resumes at 2025-03-04 00:00 UTC" in o.denials["daily_loss"].first_reason
    assert [e.kind for e in o.events] == ["daily_loss"]
    # bar 23 closes at midnight, the first close of the next risk day: its signal is taken
    assert o.open_position is not None and o.open_position["entry_time"] == "2025-03-04T00:00:00+00:00"


def test_drawdown_max_tier_flattens_at_the_close_and_halts_for_the_rest_of_the_run():
    limits = WIDE.with_changes(drawdown_warn_pct=D(1), drawdown_reducing_pct=D("1.5"), max_drawdown_pct=D(2),
                               daily_loss_limit_pct=D("1.8"))
    rows = [(100, 101, 99, 100), (100, 100.5, 99.5, 100), (100, 110.5, 99.5, 110), (110, 110, 102.5, 103),
            FLAT, FLAT, FLAT]
    # stop 95: 150 / 5 = 30 units. Peak 10300 at 110; at 103 the equity 10090 is 2.04 % below it
    o = run(rows, {0: (1, 95.0, 120.0), 4: (1, 95.0, 120.0), 5: (-1, 105.0, 80.0)}, limits=limits)

    [trade] = o.trades.rows()
    assert trade["exit_reason"] == "emergency_stop"
    assert trade["exit_price"] == "103" and trade["net_pnl"] == "90"
    assert [e.kind for e in o.events] == ["halted", "emergency_stop"]
    assert o.denials["trading_state"].count == 2
    assert o.denials["drawdown"].count == 2


def test_three_losses_in_a_row_pause_new_entries_for_the_cooldown():
    # 0.5 % risk: 25 units, each stop loses (98 - 101) x 25 = 75 USDT, so three fit under every other limit
    limits = WIDE.with_changes(loss_cooldown_minutes=120, risk_per_trade_pct=D("0.5"))
    loser = [(100, 101, 99, 100), (101, 102, 100.5, 101), (101, 101.5, 97.5, 98)]
    rows = loser * 3 + [FLAT] * 4
    entries = {0: (1, 98.0, 104.0), 3: (1, 98.0, 104.0), 6: (1, 98.0, 104.0), 9: (1, 98.0, 104.0),
               10: (1, 98.0, 104.0), 11: (1, 98.0, 104.0)}
    o = run(rows, entries, limits=limits)

    assert [t["exit_reason"] for t in o.trades.rows()] == ["stop_loss"] * 3
    # the third stop filled inside bar 8 (08:00-09:00): the 2 h cooldown runs from 09:00 to 11:00, so the signal of
    # bar 9 (closing 10:00) is refused and that of bar 10 (closing 11:00) is taken
    assert o.denials["consecutive_losses"].count == 1
    assert "cooling down 120 min until 2025-03-03 11:00:00 UTC" in o.denials["consecutive_losses"].first_reason
    assert o.open_position is not None and o.open_position["entry_time"] == "2025-03-03T11:00:00+00:00"


def test_funding_is_paid_by_a_long_at_each_8h_instant_on_the_notional_at_that_open():
    rows = [FLAT] * 10
    rows[0] = (100, 100.5, 99.5, 100)
    o = run(rows, {6: (1, 98.0, 104.0)}, funding_rate=D("0.0001"))

    # entered at 07:00, held across 08:00: 75 units x 100 x 0.01 % = 0.75 USDT paid
    assert o.funding == D("-0.75")
    assert o.final_equity == D("9999.25")


def test_limit_entry_rests_at_the_signal_close_and_fills_as_maker_when_the_range_reaches_it():
    rows = [(100, 101, 99, 100), (100.4, 101, 100.1, 100.8), (100.6, 101, 99.8, 100.2), (100, 104.5, 100, 104)]
    o = run(rows, {0: (1, 98.0, 104.0)}, limit_entries=True, validity_bars=3,
            fill=FillModel(D("0.001"), D("0.0002"), D(0)))

    [trade] = o.trades.rows()
    assert trade["entry_time"] == "2025-03-03T02:00:00+00:00"  # bar 2's low 99.8 reaches the limit 100
    assert trade["entry_price"] == "100"
    # sized on the taker fee both ways (a resting limit may end up a taker): 150 / 2.198 -> 68.24 units
    assert D(trade["fees"]) == D(100) * D("68.24") * D("0.0002") + D(104) * D("68.24") * D("0.001")  # maker in


def test_limit_filled_inside_a_bar_takes_no_profit_in_that_bar():
    rows = [(100, 101, 99, 100), (100.4, 105, 99.9, 101), (101, 101.5, 100.5, 101)]
    o = run(rows, {0: (1, 98.0, 104.0)}, limit_entries=True)

    assert len(o.trades) == 0
    assert o.open_position is not None and o.open_position["entry_price"] == "100"


def test_operator_rearm_option_returns_to_active_at_the_next_risk_day_with_the_peak_reset():
    limits = WIDE.with_changes(daily_loss_limit_pct=D(1), risk_per_trade_pct=D(1), auto_emergency_on_daily_loss=True)
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101, 101.5, 97.5, 98)] + [FLAT] * 27
    entries = {0: (1, 98.0, 104.0), 5: (1, 98.0, 104.0), 25: (1, 98.0, 104.0)}
    halted = run(rows, entries, limits=limits)
    rearmed = run(rows, entries, limits=limits, rearm_next_day=True)

    assert [e.kind for e in halted.events] == ["daily_loss", "halted"]
    assert halted.open_position is None and halted.denials["trading_state"].count == 2
    assert [e.kind for e in rearmed.events] == ["daily_loss", "halted", "rearmed"]
    assert rearmed.events[-1].ms == 1741046400000  # 2025-03-04 00:00 UTC, the first close of the next day
    assert rearmed.open_position is not None


def test_rules_reject_a_signal_whose_reward_to_risk_is_too_low_and_name_the_rule():
    rows = [(100, 101, 99, 100), FLAT, FLAT]
    o = run(rows, {0: (1, 98.0, 103.0)})

    assert len(o.trades) == 0 and o.open_position is None
    assert o.denials["reward_risk"].count == 1
    assert o.denials["reward_risk"].first_reason == "reward:risk 1.5:1 is below the minimum 2:1"


def test_a_short_profits_when_the_price_falls_to_its_target():
    rows = [(100, 101, 99, 100), (99, 99.5, 98.5, 99), (99, 99.2, 95.5, 96), FLAT]
    o = run(rows, {0: (-1, 102.0, 96.0)})

    [trade] = o.trades.rows()
    assert (trade["side"], trade["entry_price"], trade["exit_price"]) == ("short", "99", "96")
    assert trade["net_pnl"] == "225"  # (99 - 96) x 75


def test_equity_is_marked_at_every_close_and_an_open_position_counts_in_the_final_equity():
    rows = [(100, 101, 99, 100), (101, 102, 100.5, 101.5), (101.5, 103, 101, 102)]
    o = run(rows, {0: (1, 98.0, 104.0)})

    assert o.equity.tolist() == [10000.0, 10037.5, 10075.0]  # 75 units from 101: +0.5 and +1 per unit
    assert len(o.trades) == 0
    assert o.final_equity == D(10075) and o.open_position["unrealized_pnl"] == "75"


def test_warm_up_bars_before_the_first_bar_take_no_signal():
    rows = [(100, 101, 99, 100)] * 3 + [(101, 102, 100.5, 101.5)] * 2
    inp = EngineInput(candles(rows), SPEC, replace(config(limits=WIDE)), first_bar=2)
    o = run_events(inp, signals(len(rows), {0: (1, 98.0, 104.0), 1: (1, 98.0, 104.0)}))

    assert o.signals == 0 and o.open_position is None
    assert o.equity.tolist() == [10000.0] * 5
