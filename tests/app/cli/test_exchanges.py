"""``flask exchanges selftest ACCOUNT``: each step printed, exit 0 when it passes, 1 with the reason otherwise."""

from __future__ import annotations


def test_cli_selftest_on_a_fresh_app_passes_every_rule_and_exits_zero(runner):
    result = runner.invoke(args=["exchanges", "selftest", "paper"])

    assert result.exit_code == 0, result.output
    assert "place order" in result.output and "self-test of paper (paper, paper) passed" in result.output


def test_cli_selftest_of_an_unknown_account_fails_with_the_reason(runner):
    result = runner.invoke(args=["exchanges", "selftest", "nosuch"])

    assert result.exit_code == 1
    assert "account: 'nosuch' is not a configured account" in result.output
