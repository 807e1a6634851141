"""The alert settings, read once from the environment and validated (secrets never in a repr or a message)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from riskmgr.core.env import read_bool, read_int
from riskmgr.core.errors import ConfigError
from riskmgr.core.events import KINDS

# Kinds that can become alerts (the per-cycle heartbeat never does).
ALERTABLE: tuple[str, ...] = tuple(k for k in KINDS if k != "poll.cycle")
# On unless ALERT_EVENTS says otherwise: what a trader must hear about; noisy kinds are opt-in.
DEFAULT_ON: tuple[str, ...] = (
    "emergency.started", "emergency.finished", "emergency.left_open", "state.changed",
    "protection.missing", "protection.restored", "protection.failed", "risk.daily_loss", "risk.drawdown",
    "account.stale", "account.recovered", "position.closed_by_monitor", "paper.liquidation", "signal.executed",
    "poller.stopped", "poller.recovered",
)
# Never held back by the rate limit (still de-duplicated): losing one of these costs money.
CRITICAL: frozenset[str] = frozenset(
    {"emergency.started", "emergency.finished", "emergency.left_open", "protection.failed", "state.changed",
     "poller.stopped"}
)
_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z0-9_]{4,64})$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


@dataclass(frozen=True)
class AlertSettings:
    """Channels and behaviour of the alerts. Built by ``settings_from_env``."""

    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_chat_ids: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_starttls: bool = True
    email_to: tuple[str, ...] = ()
    events: tuple[str, ...] = DEFAULT_ON
    dedup_seconds: int = 600
    rate_limit: int = 20
    rate_window_seconds: int = 60
    stale_seconds: int = 60
    timeout_seconds: int = 10
    queue_size: int = 200

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def email_enabled(self) -> bool:
        return self.smtp_host is not None


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value is not None and value.strip() else None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _raw(env, name)
    return tuple(x.strip() for x in raw.split(",") if x.strip()) if raw else ()


def read_events(env: Mapping[str, str]) -> tuple[str, ...]:
    """Read ALERT_EVENTS: a comma list of event kinds, or ``all`` / ``none``; unset means the defaults."""
    raw = _raw(env, "ALERT_EVENTS")
    if raw is None:
        return DEFAULT_ON
    if raw.lower() == "all":
        return ALERTABLE
    if raw.lower() == "none":
        return ()
    kinds = _list(env, "ALERT_EVENTS")
    for kind in kinds:
        if kind not in ALERTABLE:
            raise ConfigError(
                f"ALERT_EVENTS: {kind!r} is not an event kind; allowed all, none or {', '.join(ALERTABLE)}"
            )
    return kinds


def _read_telegram(env: Mapping[str, str]) -> tuple[str | None, tuple[str, ...]]:
    token = _raw(env, "TELEGRAM_BOT_TOKEN")
    chats = _list(env, "TELEGRAM_CHAT_IDS")
    if token is not None and not _TOKEN.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters from @BotFather); "
                          "the value is not shown")
    for chat in chats:
        if not _CHAT.match(chat):
            raise ConfigError(f"TELEGRAM_CHAT_IDS: {chat!r} is not a chat id; allowed a number (e.g. -1001234567890) "
                              "or @channelname")
    if token is not None and not chats:
        raise ConfigError("TELEGRAM_CHAT_IDS is required when TELEGRAM_BOT_TOKEN is set (comma-separated chat ids)")
    if chats and token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is required when TELEGRAM_CHAT_IDS is set")
    return token, chats


def _read_smtp(env: Mapping[str, str]) -> dict[str, Any]:
    host = _raw(env, "SMTP_HOST")
    values: dict[str, Any] = {
        "smtp_host": host,
        "smtp_port": read_int(env, "SMTP_PORT", 587, 1, 65535),
        "smtp_user": _raw(env, "SMTP_USER"),
        "smtp_password": _raw(env, "SMTP_PASSWORD"),
        "smtp_starttls": read_bool(env, "SMTP_STARTTLS", True),
        "email_to": _list(env, "ALERT_EMAIL_TO"),
    }
    values["smtp_from"] = _raw(env, "SMTP_FROM") or values["smtp_user"]
    for address in (*values["email_to"], *([values["smtp_from"]] if values["smtp_from"] else [])):
        if not _EMAIL.match(address):
            raise ConfigError(f"ALERT_EMAIL_TO/SMTP_FROM: {address!r} is not an e-mail address")
    if host is None:
        if values["email_to"]:
            raise ConfigError("SMTP_HOST is required when ALERT_EMAIL_TO is set")
        return values
    if not values["email_to"]:
        raise ConfigError("ALERT_EMAIL_TO is required when SMTP_HOST is set (comma-separated addresses)")
    if not values["smtp_from"]:
        raise ConfigError("SMTP_FROM (or SMTP_USER) is required when SMTP_HOST is set")
    if values["smtp_user"] and not values["smtp_password"]:
        raise ConfigError("SMTP_PASSWORD is required when SMTP_USER is set")
    if values["smtp_password"] and not values["smtp_starttls"]:
        raise ConfigError("SMTP_STARTTLS=false with SMTP_PASSWORD set would send the password unencrypted; "
                          "allowed only without a login")
    return values


def settings_from_env(env: Mapping[str, str]) -> AlertSettings:
    """Read and validate the alert settings; raise ConfigError naming the variable and what is allowed."""
    token, chats = _read_telegram(env)
    return AlertSettings(
        telegram_bot_token=token,
        telegram_chat_ids=chats,
        **_read_smtp(env),
        events=read_events(env),
        dedup_seconds=read_int(env, "ALERT_DEDUP_SECONDS", 600, 0, 86400),
        rate_limit=read_int(env, "ALERT_RATE_LIMIT", 20, 1, 1000),
        rate_window_seconds=read_int(env, "ALERT_RATE_WINDOW_SECONDS", 60, 1, 86400),
        stale_seconds=read_int(env, "ALERT_STALE_SECONDS", 60, 5, 86400),
        timeout_seconds=read_int(env, "ALERT_TIMEOUT_SECONDS", 10, 1, 60),
        queue_size=read_int(env, "ALERT_QUEUE_SIZE", 200, 10, 10000),
    )
