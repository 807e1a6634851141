"""``flask risk status`` (limits and each rule's headroom), ``flask risk rearm`` (a reason, audited) and
``flask risk emergency-stop`` (every step printed; exit 0 only when flat)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import TradingState
from riskmgr.risk.emergency.config import EmergencySettings
from tests.risk.emergency.test_sequence import _dispose, _positions, build_world


@pytest.fixture
def world(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0)
    yield w
    _dispose(w)


def test_cli_status_shows_limits_and_rule_headroom(runner, runtime):
    poll_cycle(runtime)
    runtime.limits_store.update({"max_open_positions": 4}, "test")

    output = runner.invoke(args=["risk", "status"]).output

    assert "trading state: ACTIVE (initial state)" in output
    assert "max_open_positions             4 (changed; environment 5)" in output
    assert "  Daily loss           ok        0 of 3 %, headroom 300 USDT — " in output
    assert "  Open positions       ok        0 of 4, headroom 4 positions — 0 of 4 open" in output


def test_cli_rearm_requires_a_reason_and_records_it(runner, runtime):
    runtime.trading.escalate(TradingState.HALTED, "test", "t")

    missing = runner.invoke(args=["risk", "rearm"])
    done = runner.invoke(args=["risk", "rearm", "--reason", "all clear"])

    assert missing.exit_code != 0 and "--reason" in missing.output
    assert done.exit_code == 0 and "re-armed: HALTED -> ACTIVE" in done.output
    assert runtime.audit.query(kind="state.rearm")[0]["data"]["reason"] == "all clear"


def test_cli_flattens_prints_every_step_and_exits_zero_when_flat(world):
    result = world.apps[0].test_cli_runner().invoke(args=["risk", "emergency-stop", "--reason", "cli drill"])

    assert result.exit_code == 0, result.output
    assert [line.split(" ")[3] for line in result.output.splitlines() if line.startswith("  step")] == [
        "1/6", "2/6", "3/6", "4/6", "5/6", "6/6"
    ]
    assert "finished: flat" in result.output and "HALTED until re-armed" in result.output
    assert _positions(world) == []


def test_cli_exits_one_with_the_reason_when_something_is_left_open(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0, settings=EmergencySettings(backoff_seconds=Decimal("0.01"),
                                                                           max_rounds=2))
    try:
        w.adapters["alpha"].rate = 1.0

        result = w.apps[0].test_cli_runner().invoke(args=["risk", "emergency-stop", "--reason", "stuck drill"])

        assert result.exit_code == 1
        assert "NOT flat" in result.output and "alpha" in result.output.splitlines()[-1]
    finally:
        _dispose(w)


def test_cli_refuses_a_blank_reason(world):
    result = world.apps[0].test_cli_runner().invoke(args=["risk", "emergency-stop", "--reason", "  "])

    assert result.exit_code == 1
    assert "reason" in result.output
    assert world.rt.trading.current().state is TradingState.ACTIVE
