"""One logging configuration: readable lines to stdout and a rotating file under instance/logs/.

A filter masks every configured secret (API keys, tokens, passwords) in every record, whatever the
logger, so a secret that slips into a message or an exception never reaches a log line.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading

from riskmgr.config import Settings

FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line from now on (values shorter than 6 characters are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ***."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    return text


class SecretMaskingFilter(logging.Filter):
    """Rewrite each record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def configure_logging(settings: Settings) -> None:
    """Install the handlers once per process (later calls only update the level and secrets)."""
    register_secret(settings.admin_password)
    register_secret(settings.api_token)
    register_secret(settings.secret_key)
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    if any(isinstance(f, SecretMaskingFilter) for h in root.handlers for f in h.filters):
        return
    masking = SecretMaskingFilter()
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(FORMAT))
    stream.addFilter(masking)
    root.addHandler(stream)
    if not settings.testing:
        logs = settings.instance_path / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(logs / "riskmgr.log", maxBytes=5_000_000, backupCount=5)
        rotating.setFormatter(logging.Formatter(FORMAT))
        rotating.addFilter(masking)
        root.addHandler(rotating)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
