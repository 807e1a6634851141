"""The app's command line declares its commands in one list (riskmgr.app.cli.COMMANDS): each is registered with the
app under its own name, and an entry that is not a click command, or a name used twice, stops the start."""

from __future__ import annotations

import pytest

from riskmgr import create_app
from riskmgr.app import cli
from riskmgr.app.cli import COMMANDS, InvalidCommandError, check
from tests.conftest import make_settings

NAMES = ["risk", "scheduler", "exchanges", "watchdog", "positions", "orders", "accounts", "data", "signals",
         "backtest", "trades", "alerts", "poller"]


def test_every_declared_command_is_registered_under_its_name(app):
    assert [c.name for c in COMMANDS] == NAMES
    assert all(app.cli.commands[command.name] is command for command in COMMANDS)


def test_the_emergency_stop_is_a_subcommand_of_the_risk_group():
    risk = next(c for c in COMMANDS if c.name == "risk")
    assert sorted(risk.commands) == ["emergency-stop", "rearm", "status"]


def test_the_real_list_passes_the_check():
    check(COMMANDS)


@pytest.mark.parametrize(("extra", "words"), [
    (print, "COMMANDS entry #14 is a builtin_function_or_method, not a click command"),
    (COMMANDS[0], "COMMANDS entry #14: the command 'risk' is declared twice"),
])
def test_an_ill_typed_command_list_stops_the_app_at_start_up(tmp_path, clock, monkeypatch, extra, words):
    monkeypatch.setattr(cli, "COMMANDS", (*COMMANDS, extra))

    with pytest.raises(InvalidCommandError) as exc:
        create_app(make_settings(tmp_path, extra={"clock": clock}))

    assert words in str(exc.value)
