"""Alerts feature: Telegram / e-mail / log alerts for the events that matter (the Alerts page and its API are
``riskmgr.web.alerts``, ``flask alerts test`` is ``riskmgr.app.cli.alerts``).

Parts: ``alerts_settings`` (environment), ``alerts_channels`` (Telegram, SMTP, log), ``alerts_dispatch``
(toggles, de-duplication, rate limit, history, stale-account tracking), ``alerts_queue`` (background worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from riskmgr.alerts.channels import EmailChannel, LogChannel, TelegramChannel
from riskmgr.alerts.dispatch import AlertDispatcher, Channel, StaleTracker
from riskmgr.alerts.settings import AlertSettings
from riskmgr.alerts.settings import settings_from_env as settings_from_env  # the feature's settings reader
from riskmgr.core.domain import AccountSnapshot
from riskmgr.core.feature import Feature
from riskmgr.core.secrets import register_secret

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "alerts"


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


FEATURE = Feature(name=NAME, install=install, provides=(AlertsFeature,), poll_hook=poll_hook,
                  settings_from_env=settings_from_env)
