from datetime import UTC, datetime, timedelta
from decimal import Decimal

from riskmgr.risk.context import ClosedTrade
from riskmgr.risk.rules import consecutive_losses
from tests.risk.builders import NOW, context, intent

D = Decimal


def trades(*pnls: str, newest: datetime = NOW - timedelta(minutes=30)) -> tuple[ClosedTrade, ...]:
    """Closed trades newest first, ten minutes apart."""
    return tuple(ClosedTrade(newest - timedelta(minutes=10 * i), D(p)) for i, p in enumerate(pnls))


def test_three_losses_in_a_row_deny_until_the_last_loss_plus_the_cooldown():
    verdict = consecutive_losses.check(context(recent_trades=trades("-5", "-1", "-2", "10")))

    assert not verdict.allowed
    assert verdict.until == datetime(2024, 3, 10, 12, 30, tzinfo=UTC)
    assert verdict.reason == (
        "3 losing closes in a row (breaker at 3): cooling down 60 min until 2024-03-10 12:30:00 UTC"
    )


def test_two_losses_in_a_row_are_allowed():
    verdict = consecutive_losses.check(context(recent_trades=trades("-5", "-1", "10", "-2")))

    assert verdict.allowed
    assert verdict.reason == "2 losing close(s) in a row; the breaker trips at 3"


def test_a_break_even_close_ends_the_streak():
    assert consecutive_losses.check(context(recent_trades=trades("-5", "0", "-1", "-2"))).allowed


def test_the_cooldown_ends_exactly_at_last_loss_plus_cooldown():
    last_loss = NOW - timedelta(minutes=60)

    at_end = consecutive_losses.check(context(recent_trades=trades("-1", "-1", "-1", newest=last_loss)))
    one_second_before = consecutive_losses.check(
        context(recent_trades=trades("-1", "-1", "-1", newest=last_loss + timedelta(seconds=1)))
    )

    assert at_end.allowed
    assert "cooldown ended" in at_end.reason
    assert not one_second_before.allowed


def test_trades_given_oldest_first_are_still_read_newest_first():
    oldest_first = tuple(reversed(trades("-5", "-1", "-2", "10")))

    assert not consecutive_losses.check(context(recent_trades=oldest_first)).allowed


def test_no_history_is_no_streak():
    assert consecutive_losses.check(context()).allowed


def test_reduce_only_orders_skip_the_rule():
    ctx = context(recent_trades=trades("-1", "-1", "-1"), intent=intent(reduce_only=True))

    assert consecutive_losses.check(ctx).allowed
