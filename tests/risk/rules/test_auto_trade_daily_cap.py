from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.core.domain import Verdict
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.rules import ALL_RULES, auto_trade_daily_cap
from tests.risk.builders import NOW, context, intent


def test_an_automatic_entry_under_the_cap_is_allowed_with_the_count():
    verdict = auto_trade_daily_cap.check(context(automatic_entries=9))

    assert verdict.allowed
    assert verdict.reason == "9 automatic entries this risk day; the cap is 10"


def test_the_entry_that_would_exceed_the_cap_is_denied_until_the_next_risk_day():
    verdict = auto_trade_daily_cap.check(context(automatic_entries=10))

    assert not verdict.allowed
    assert verdict.reason == "10 automatic entries this risk day reached the cap of 10"
    assert verdict.until == datetime(2024, 3, 11, 0, 0, tzinfo=UTC)


def test_the_next_risk_day_starts_at_midnight_in_the_limits_time_zone():
    limits = RiskLimits(auto_trade_daily_cap=2, risk_day_timezone="America/New_York")

    verdict = auto_trade_daily_cap.judge(2, limits, NOW)

    assert verdict.until == datetime(2024, 3, 11, 4, 0, tzinfo=UTC)  # 00:00 EDT


def test_a_cap_of_zero_denies_every_automatic_entry():
    assert not auto_trade_daily_cap.judge(0, RiskLimits(auto_trade_daily_cap=0), NOW).allowed


def test_a_manual_order_is_not_capped():
    verdict = auto_trade_daily_cap.check(context())

    assert verdict.allowed and verdict.reason == "a manual order: the cap counts automatic entries only"


def test_a_reduce_only_order_is_never_capped():
    verdict = auto_trade_daily_cap.check(context(intent=intent(reduce_only=True), automatic_entries=99))

    assert verdict.allowed and "reduce-only" in verdict.reason


def test_the_cap_is_not_a_receipt_rule_of_a_manual_ticket():
    assert auto_trade_daily_cap.NAME not in {rule.name for rule in ALL_RULES}


def test_a_count_given_as_a_number_or_a_callable_is_read_as_it_is():
    assert auto_trade_daily_cap.count(4) == 4
    assert auto_trade_daily_cap.count(lambda: 0) == 0


def test_a_count_whose_read_fails_denies_naming_the_error_and_is_never_zero():
    def failing() -> int:
        raise OSError("database is locked")

    verdict = auto_trade_daily_cap.count(failing)

    assert isinstance(verdict, Verdict) and not verdict.allowed and verdict.rule == auto_trade_daily_cap.NAME
    assert verdict.reason == ("the automatic entries of this risk day cannot be counted (OSError: database is "
                              "locked): no automatic entry until they can")


@pytest.mark.parametrize("reply", [None, "2", -1, True, 2.0, Decimal(2)])
def test_a_malformed_count_denies_naming_what_was_read(reply):
    verdict = auto_trade_daily_cap.count(lambda: reply)

    assert isinstance(verdict, Verdict) and not verdict.allowed
    assert f"the count read was {reply!r}, not a whole number of entries" in verdict.reason
