"""Alerts feature: Telegram / e-mail / log alerts for the events that matter, the Alerts page, its API and CLI.

Parts: ``alerts_settings`` (environment), ``alerts_channels`` (Telegram, SMTP, log), ``alerts_dispatch``
(toggles, de-duplication, rate limit, history, stale-account tracking), ``alerts_queue`` (background worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click
from flask import Blueprint, g, jsonify, render_template, request
from flask.cli import AppGroup

from riskmgr.alerts.channels import EmailChannel, LogChannel, TelegramChannel
from riskmgr.alerts.dispatch import STATUSES, AlertDispatcher, Channel, StaleTracker
from riskmgr.alerts.settings import ALERTABLE, AlertSettings
from riskmgr.alerts.settings import settings_from_env as settings_from_env  # the feature's settings reader
from riskmgr.app.runtime import current_runtime
from riskmgr.core.domain import AccountSnapshot
from riskmgr.core.errors import ValidationError
from riskmgr.core.feature import Feature
from riskmgr.core.secrets import register_secret
from riskmgr.core.validation import NAME_MAX, json_object, opt_int, req_str

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "alerts"
bp = Blueprint("alerts", __name__)


@dataclass
class AlertsFeature:
    dispatcher: AlertDispatcher
    stale: StaleTracker


def build_channels(s: AlertSettings) -> list[Channel]:
    """Return the configured channels; the log channel is always there."""
    channels: list[Channel] = [LogChannel()]
    if s.telegram_bot_token is not None:
        channels.append(TelegramChannel(s.telegram_bot_token, s.telegram_chat_ids, s.timeout_seconds))
    if s.smtp_host is not None and s.smtp_from is not None:
        channels.append(EmailChannel(
            s.smtp_host, s.smtp_port, s.smtp_from, s.email_to, s.timeout_seconds,
            user=s.smtp_user, password=s.smtp_password, starttls=s.smtp_starttls,
        ))
    return channels


def install(runtime: Runtime) -> tuple[AlertsFeature]:
    """Build the dispatcher, mask the channel secrets and subscribe to the event bus."""
    s: AlertSettings = runtime.settings.feature(NAME)
    register_secret(s.telegram_bot_token)
    register_secret(s.smtp_password)
    dispatcher = AlertDispatcher(
        runtime.engine, runtime.clock, s, build_channels(s), runtime.settings.display_timezone, runtime.audit
    )
    runtime.events.subscribe(dispatcher.on_event)
    return (AlertsFeature(dispatcher, StaleTracker(s.stale_seconds, runtime.engine)),)


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Announce accounts stale or failing for longer than ALERT_STALE_SECONDS, and their recovery."""
    runtime.feature(AlertsFeature).stale.observe(snapshots, runtime.events.emit)


def _dispatcher() -> AlertDispatcher:
    return current_runtime().feature(AlertsFeature).dispatcher


@bp.get("/alerts")
def page():
    dispatcher = _dispatcher()
    return render_template("alerts.html", settings=dispatcher.settings, statuses=STATUSES)


@bp.get("/api/alerts/status")
def status():
    return jsonify(_dispatcher().status())


@bp.get("/api/alerts")
def history():
    limit = opt_int(request.args, "limit", 1, 1000) or 100
    wanted = request.args.get("status") or None
    if wanted is not None:
        req_str({"status": wanted}, "status", list(STATUSES))
    return jsonify(alerts=_dispatcher().history(limit, wanted))


@bp.get("/api/alerts/toggles")
def toggles():
    return jsonify(toggles=_dispatcher().toggles())


@bp.put("/api/alerts/toggles")
def set_toggle():
    data = json_object(request)
    kind = req_str(data, "kind", list(ALERTABLE), max_len=NAME_MAX)
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise ValidationError("enabled", "is required: true or false")
    dispatcher = _dispatcher()
    dispatcher.set_toggle(kind, enabled, getattr(g, "actor", "operator"))
    return jsonify(toggles=dispatcher.toggles())


@bp.post("/api/alerts/test")
def send_test():
    return jsonify(_dispatcher().send_test(getattr(g, "actor", "operator")))


alerts_cli = AppGroup("alerts", help="Alert channels: Telegram, e-mail and the log.")


@alerts_cli.command("test")
def alerts_test() -> None:
    """Send a test alert through every configured channel now and report each channel's result."""
    result = _dispatcher().send_test("cli")
    for name, outcome in result["channels"].items():
        click.echo(f"{name:<9} {'ok' if outcome['ok'] else 'FAILED: ' + str(outcome['error'])}")
    if result["status"] == "logged":
        raise click.ClickException(
            "no Telegram or e-mail channel is configured (TELEGRAM_BOT_TOKEN, SMTP_HOST); the test alert went to "
            "the log only"
        )
    if result["status"] != "sent":
        raise click.ClickException(f"test alert not delivered everywhere: {result['error']}")


FEATURE = Feature(name=NAME, install=install, provides=(AlertsFeature,), blueprint=bp, nav=(("alerts.page", "Alerts"),),
                  poll_hook=poll_hook, cli=(alerts_cli,), settings_from_env=settings_from_env)
