from decimal import Decimal

from riskmgr.core.domain import PositionSide
from riskmgr.risk.exposure import PendingEntry
from riskmgr.risk.rules import daily_headroom
from tests.risk.builders import context, intent

D = Decimal


def test_an_order_whose_stop_fits_the_days_headroom_is_allowed():
    # the intent is sized to 0.016 BTC (the 1000 USDT notional cap): 14.40 USDT at its stop fits 150 USDT left
    verdict = daily_headroom.check(context(equity=D("9850")))

    assert verdict.allowed
    assert verdict.reason == (
        "the loss at the stops (this order's 14.40 USDT) fits the 150.00 USDT left before the daily loss limit")


def test_a_loss_one_cent_short_of_the_limit_denies_an_order_whose_stop_would_cross_it():
    verdict = daily_headroom.check(context(equity=D("9700.01")))

    assert not verdict.allowed
    assert verdict.reason.endswith("is above the 0.01 USDT left before the daily loss limit")


def test_resting_entries_count_against_the_headroom_as_if_filled_and_stopped():
    resting = PendingEntry("ETH/USDT:USDT", PositionSide.LONG, D(1), D(3000), D(2860), "resting", "c1")
    allowed_alone = daily_headroom.check(context(equity=D("9850")))

    verdict = daily_headroom.check(context(equity=D("9850"), pending=(resting,)))

    assert allowed_alone.allowed
    assert not verdict.allowed  # 140 USDT at the resting entry's stop + this order's 14.40 > 150 USDT left
    assert "(this order's 14.40 + resting/in flight 140.00 USDT)" in verdict.reason


def test_a_resting_entry_without_a_recorded_stop_counts_at_the_emergency_close_distance():
    resting = PendingEntry("ETH/USDT:USDT", PositionSide.LONG, D(1), D(3000), None, "resting", None)

    assert daily_headroom.pending_risk(context(pending=(resting,))) == D(150)  # 5 % of 3000 USDT


def test_an_unknown_day_baseline_denies():
    assert not daily_headroom.check(context(day_start_equity=D(0))).allowed


def test_reduce_only_orders_skip_the_rule():
    assert daily_headroom.check(context(equity=D(5000), intent=intent(reduce_only=True))).allowed
