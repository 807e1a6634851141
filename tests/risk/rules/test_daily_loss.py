from datetime import UTC, datetime
from decimal import Decimal

from riskmgr.risk.config import RiskLimits
from riskmgr.risk.rules import daily_loss
from tests.risk.builders import context, intent

D = Decimal


def test_a_loss_exactly_at_the_limit_denies_until_the_next_day_start():
    verdict = daily_loss.check(context(equity=D(9700)))

    assert not verdict.allowed
    assert verdict.until == datetime(2024, 3, 11, 0, 0, tzinfo=UTC)
    assert verdict.reason == (
        "day loss 3.00 % of the day's opening equity 10000.00 USDT reached the daily loss limit 3 %; "
        "new risk resumes at 2024-03-11 00:00 UTC"
    )


def test_a_loss_one_cent_short_of_the_limit_is_allowed():
    verdict = daily_loss.check(context(equity=D("9700.01")))

    assert verdict.allowed
    assert verdict.until is None
    assert verdict.reason == (
        "day loss 2.9999 % of the day's opening equity 10000.00 USDT is within the daily loss limit 3 %"
    )


def test_the_day_ends_at_midnight_in_the_configured_zone():
    limits = RiskLimits().with_changes(risk_day_timezone="America/New_York")

    verdict = daily_loss.check(context(equity=D(9000), limits=limits))

    assert verdict.until == datetime(2024, 3, 11, 4, 0, tzinfo=UTC)  # midnight EDT


def test_an_unknown_day_baseline_denies():
    verdict = daily_loss.check(context(day_start_equity=D(0)))

    assert not verdict.allowed
    assert "the day's loss is unknown" in verdict.reason


def test_reduce_only_orders_skip_the_rule():
    assert daily_loss.check(context(equity=D(5000), intent=intent(reduce_only=True))).allowed
