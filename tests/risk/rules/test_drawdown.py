from decimal import Decimal

import pytest

from riskmgr.risk.rules import drawdown
from tests.risk.builders import context, intent

D = Decimal


@pytest.mark.parametrize(
    ("equity", "allowed"),
    [("9700.01", True), ("9700", True), ("9600.01", True), ("9600", False), ("9500", False), ("9000", False)],
)
def test_new_risk_is_denied_from_the_reducing_tier_on(equity, allowed):
    # day start = equity so only the drawdown matters
    verdict = drawdown.check(context(equity=D(equity), day_start_equity=D(equity)))

    assert verdict.allowed is allowed


def test_the_warn_tier_allows_but_says_so():
    verdict = drawdown.check(context(equity=D(9650)))

    assert verdict.reason == "drawdown 3.50 % from peak 10000.00 USDT (equity 9650.00 USDT) reached the warn tier 3 %"


def test_the_reducing_tier_denial_names_the_numbers():
    verdict = drawdown.check(context(equity=D(9600)))

    assert verdict.reason == (
        "drawdown 4.00 % from peak 10000.00 USDT (equity 9600.00 USDT) reached the REDUCING tier 4 %: no new risk"
    )


def test_an_unknown_peak_denies():
    assert not drawdown.check(context(peak_equity=D(0))).allowed


def test_reduce_only_orders_skip_the_rule():
    assert drawdown.check(context(equity=D(9000), intent=intent(reduce_only=True))).allowed
