"""The execution core: the order of an entry decision's verdicts, its quantity, and the automatic-entry cap."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.core.domain import PositionSide, TradingState, Verdict
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.decision import decide_entry, rule_verdicts, undecidable
from riskmgr.risk.rules import ALL_RULES
from riskmgr.risk.sizing import round_levels
from tests.risk.builders import NOW, context

D = Decimal
RULES = [rule.name for rule in ALL_RULES]
PAUSED = Verdict.deny("entries_paused", "new entries are paused on this account")


def test_a_manual_entry_is_judged_on_the_state_then_the_gates_then_every_rule_in_receipt_order():
    decision = decide_entry(context(), gates=[PAUSED])

    assert [v.rule for v in decision.verdicts] == ["trading_state", "entries_paused", *RULES]
    assert not decision.allowed and decision.denials == [PAUSED] and decision.qty is None


def test_an_automatic_entry_is_also_judged_against_the_daily_cap_after_the_gates():
    decision = decide_entry(context(automatic_entries=3))

    assert [v.rule for v in decision.verdicts] == ["trading_state", "auto_trade_daily_cap", *RULES]
    assert decision.allowed


def test_an_allowed_entry_carries_the_size_the_rules_judged():
    ctx = context()

    decision = decide_entry(ctx)

    assert decision.allowed and ctx.sizing is not None
    assert decision.qty == ctx.sizing.qty and decision.qty > 0


def test_halted_denies_first_and_the_rules_still_say_what_they_found():
    decision = decide_entry(context(trading_state=TradingState.HALTED))

    assert decision.denials[0].rule == "trading_state" and decision.qty is None
    assert len(decision.verdicts) == 1 + len(RULES)


def test_a_capped_automatic_entry_is_denied_with_the_cap_and_nothing_else():
    decision = decide_entry(context(automatic_entries=10))

    assert [v.rule for v in decision.denials] == ["auto_trade_daily_cap"]


def test_overrides_replace_the_verdicts_of_rules_whose_input_is_unknown():
    unknown = Verdict.deny("drawdown", "no good read has set the peak equity yet: the drawdown is unknown")

    verdicts = rule_verdicts(context(), {"drawdown": unknown})

    assert [v.rule for v in verdicts] == RULES and unknown in verdicts


def test_an_entry_that_cannot_be_read_keeps_the_same_order_with_every_rule_denying():
    rules = [Verdict.deny(name, "not checked: the positions cannot be read") for name in RULES]

    decision = undecidable(TradingState.ACTIVE, rules, limits=RiskLimits(), now=NOW, gates=[],
                           automatic_entries=10)

    assert [v.rule for v in decision.verdicts] == ["trading_state", "auto_trade_daily_cap", *RULES]
    assert decision.context is None and decision.qty is None and not decision.allowed


def test_levels_round_to_the_tick_on_the_cautious_side_for_both_sides():
    tick = D("0.5")

    assert round_levels(PositionSide.LONG, D("99.2"), D("110.7"), tick) == (D("99.5"), D("110.5"))
    assert round_levels(PositionSide.SHORT, D("100.7"), D("90.2"), tick) == (D("100.5"), D("90.5"))
    assert round_levels(PositionSide.LONG, None, None, tick) == (None, None)
