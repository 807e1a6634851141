"""Where alerts go: Telegram (Bot API sendMessage), e-mail (SMTP with STARTTLS) and the log (always).

Each channel's ``send`` returns on success or raises ``DeliveryError`` with a one-line reason that never
carries a secret: the bot token is part of the Telegram URL, so HTTP errors are described by class and
status only, and the original exception (whose text holds the URL) is not chained into the traceback.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import requests

from riskmgr.alerts.settings import CRITICAL
from riskmgr.core.secrets import mask

log = logging.getLogger("riskmgr.alerts.feature")
TELEGRAM_API = "https://api.telegram.org"
TELEGRAM_MAX_CHARS = 4000  # the Bot API refuses texts over 4096 characters


@dataclass(frozen=True)
class Alert:
    """One alert to deliver."""

    kind: str
    message: str
    ts: datetime
    account: str | None = None
    repeats: int = 0  # identical alerts held back by de-duplication since the last one sent
    test: bool = False


class DeliveryError(Exception):
    """A channel could not deliver an alert; ``temporary`` says whether trying again may help."""

    def __init__(self, message: str, *, temporary: bool = False):
        super().__init__(mask(message))
        self.temporary = temporary


def format_alert(alert: Alert, tz_name: str) -> tuple[str, str]:
    """Return the subject line and the plain-text body of an alert, times in the display time zone."""
    level = "TEST" if alert.test else "CRITICAL" if alert.kind in CRITICAL else "ALERT"
    where = f" [{alert.account}]" if alert.account else ""
    subject = f"riskmgr {level}: {alert.kind}{where}"
    when = alert.ts.astimezone(ZoneInfo(tz_name)).strftime(f"%Y-%m-%d %H:%M:%S {tz_name}")
    lines = [subject, alert.message, f"at {when}"]
    if alert.repeats:
        lines.append(f"(the same alert also occurred {alert.repeats} more time(s) and was held back)")
    return subject, "\n".join(lines)


class LogChannel:
    """Write every alert to the log; always on."""

    name = "log"

    def describe(self) -> str:
        return "always on"

    def send(self, alert: Alert, subject: str, body: str) -> None:
        log.warning("%s", body.replace("\n", " | "))


class TelegramChannel:
    """Send to each chat with the Bot API's sendMessage (plain text, so no markup can break a message)."""

    name = "telegram"

    def __init__(self, token: str, chat_ids: tuple[str, ...], timeout: float, *, attempts: int = 2,
                 backoff_seconds: float = 1.0):
        self._url = f"{TELEGRAM_API}/bot{token}/sendMessage"
        self.chat_ids = chat_ids
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff_seconds

    def __repr__(self) -> str:
        return f"TelegramChannel(chats={len(self.chat_ids)})"

    def describe(self) -> str:
        return f"{len(self.chat_ids)} chat(s)"

    def send(self, alert: Alert, subject: str, body: str) -> None:
        failures = []
        for chat in self.chat_ids:
            try:
                self._send_one(chat, body[:TELEGRAM_MAX_CHARS])
            except DeliveryError as exc:
                failures.append(f"chat {chat}: {exc}")
        if failures:
            raise DeliveryError("; ".join(failures))

    def _send_one(self, chat: str, text: str) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                self._post(chat, text)
                return
            except DeliveryError as exc:
                if not exc.temporary or attempt == self._attempts:
                    raise
                time.sleep(self._backoff * attempt)

    def _post(self, chat: str, text: str) -> None:
        try:
            response = requests.post(
                self._url, json={"chat_id": chat, "text": text, "disable_web_page_preview": True},
                timeout=(min(5.0, self._timeout), self._timeout),
            )
        except requests.Timeout:
            raise DeliveryError(f"Telegram did not answer within {self._timeout:g} s", temporary=True) from None
        except requests.RequestException as exc:
            # str(exc) would name the URL, and with it the bot token: describe by class only.
            raise DeliveryError(f"Telegram unreachable ({type(exc).__name__})", temporary=True) from None
        if response.status_code == 200 and _json(response).get("ok") is True:
            return
        description = str(_json(response).get("description") or response.reason or "no description")[:200]
        temporary = response.status_code >= 500 or response.status_code == 429
        raise DeliveryError(f"Telegram answered HTTP {response.status_code}: {description}", temporary=temporary)


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class EmailChannel:
    """Send one e-mail per alert through SMTP: STARTTLS (default), implicit TLS on port 465, login if set."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: tuple[str, ...], timeout: float, *,
                 user: str | None = None, password: str | None = None, starttls: bool = True):
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self._timeout = timeout
        self._user, self._password, self._starttls = user, password, starttls

    def __repr__(self) -> str:
        return f"EmailChannel({self.host}:{self.port}, to={len(self.recipients)})"

    def describe(self) -> str:
        return f"{self.host}:{self.port} to {len(self.recipients)} address(es)"

    def send(self, alert: Alert, subject: str, body: str) -> None:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(self.recipients)
        message.set_content(body)
        try:
            with self._connect() as smtp:
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}",
                                temporary=isinstance(exc, OSError)) from None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.port == 465:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        if self._starttls:
            try:
                smtp.starttls(context=context)
            except Exception:
                smtp.close()
                raise
        return smtp
