"""``flask alerts test``: send a test alert through every configured channel and report each one."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from riskmgr.alerts.feature import AlertsFeature
from riskmgr.app.runtime import current_runtime

alerts_cli = AppGroup("alerts", help="Alert channels: Telegram, e-mail and the log.")


@alerts_cli.command("test")
def alerts_test() -> None:
    """Send a test alert through every configured channel now and report each channel's result."""
    result = current_runtime().feature(AlertsFeature).dispatcher.send_test("cli")
    for name, outcome in result["channels"].items():
        click.echo(f"{name:<9} {'ok' if outcome['ok'] else 'FAILED: ' + str(outcome['error'])}")
    if result["status"] == "logged":
        raise click.ClickException(
            "no Telegram or e-mail channel is configured (TELEGRAM_BOT_TOKEN, SMTP_HOST); the test alert went to "
            "the log only"
        )
    if result["status"] != "sent":
        raise click.ClickException(f"test alert not delivered everywhere: {result['error']}")
