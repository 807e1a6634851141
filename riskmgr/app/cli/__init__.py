"""The ``flask`` command line: one module per area, each command a thin shell over the services (exit code 0, or 1
with a one-line reason). ``COMMANDS`` lists every top-level command group; the composition root registers them
(``register_cli``) after checking them (``check``)."""

from __future__ import annotations

from collections.abc import Sequence

import click
from flask import Flask

from riskmgr.app.cli.alerts import alerts_cli
from riskmgr.app.cli.backtests import backtest_cli
from riskmgr.app.cli.controls import accounts_cli, orders_cli, positions_cli
from riskmgr.app.cli.exchanges import exchanges_cli, watchdog_cli
from riskmgr.app.cli.journal import trades_cli
from riskmgr.app.cli.liveness import poller_cli
from riskmgr.app.cli.risk import risk_cli
from riskmgr.app.cli.scheduler import scheduler_cli
from riskmgr.app.cli.signals import data_cli, signals_cli

__all__ = ["COMMANDS", "InvalidCommandError", "check", "register_cli"]

COMMANDS: tuple[click.Command, ...] = (
    risk_cli,  # flask risk status | rearm | emergency-stop
    scheduler_cli,  # flask scheduler run
    exchanges_cli,  # flask exchanges selftest
    watchdog_cli,  # flask watchdog status
    positions_cli,  # flask positions move-stop | move-target | partial-close | close
    orders_cli,  # flask orders cancel
    accounts_cli,  # flask accounts pause | resume | auto-trading | controls
    data_cli,  # flask data fetch
    signals_cli,  # flask signals scan | plan
    backtest_cli,  # flask backtest run | presets
    trades_cli,  # flask trades list | export
    alerts_cli,  # flask alerts test
    poller_cli,  # flask poller status
)


class InvalidCommandError(TypeError):
    """An entry of ``COMMANDS`` is not a click command, or two share a name: the app refuses to start."""


def check(commands: Sequence[click.Command] | None = None) -> None:
    """Refuse an entry that is not a click command or group, and a command name used twice."""
    commands = COMMANDS if commands is None else commands
    seen: set[str] = set()
    for i, command in enumerate(commands):
        if not isinstance(command, click.Command):
            raise InvalidCommandError(f"COMMANDS entry #{i + 1} is a {type(command).__name__}, not a click command")
        if command.name in seen:
            raise InvalidCommandError(f"COMMANDS entry #{i + 1}: the command {command.name!r} is declared twice")
        seen.add(str(command.name))


def register_cli(app: Flask, commands: Sequence[click.Command] | None = None) -> None:
    """Check the commands and attach them to the app."""
    commands = COMMANDS if commands is None else commands
    check(commands)
    for command in commands:
        app.cli.add_command(command)
