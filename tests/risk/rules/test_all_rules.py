from decimal import Decimal

from riskmgr.core.domain import AccountStatus
from riskmgr.risk.rules import ALL_RULES, all_allowed, denials, evaluate
from tests.risk.builders import context, intent

D = Decimal
EXPECTED_ORDER = [
    "data_fresh",
    "stop_required",
    "min_stop_distance",
    "risk_per_trade",
    "max_leverage",
    "max_open_positions",
    "max_position_notional",
    "liquidation_beyond_stop",
    "reward_risk",
    "daily_loss",
    "daily_headroom",
    "drawdown",
    "consecutive_losses",
]


def test_all_rules_run_in_a_fixed_order():
    assert [rule.name for rule in ALL_RULES] == EXPECTED_ORDER


def test_evaluate_returns_every_rules_verdict_for_the_receipt():
    verdicts = evaluate(context())

    assert [v.rule for v in verdicts] == EXPECTED_ORDER
    assert all_allowed(verdicts)
    assert denials(verdicts) == []


def test_evaluate_reports_every_denial_not_just_the_first():
    ctx = context(account_status=AccountStatus.STALE, intent=intent(stop_loss=None), equity=D(9500))

    denied = [v.rule for v in denials(evaluate(ctx))]

    assert denied == [
        "data_fresh",
        "stop_required",
        "min_stop_distance",
        "risk_per_trade",
        "max_leverage",
        "max_position_notional",
        "liquidation_beyond_stop",
        "reward_risk",
        "daily_loss",
        "daily_headroom",
        "drawdown",
    ]


def test_a_reduce_only_intent_passes_every_rule_saying_it_was_skipped():
    ctx = context(account_status=AccountStatus.ERROR, equity=D(5000), intent=intent(reduce_only=True, stop_loss=None))

    verdicts = evaluate(ctx)

    assert all_allowed(verdicts)
    assert {v.reason for v in verdicts} == {"reduce-only order: new-risk rule skipped"}
