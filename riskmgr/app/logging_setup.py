"""One logging configuration: readable lines to the console (stderr) and a rotating file under instance/logs/.

A filter masks every configured secret (API keys, tokens, passwords) in every record, whatever the
logger, so a secret that slips into a message or an exception never reaches a log line.

Web requests carry a request id (the caller's ``X-Request-ID`` when it is a plain token, else a new one),
echoed in the response header and shown in every log line written while the request is handled.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from riskmgr.app.config import Settings
from riskmgr.core.secrets import mask, register_secret

FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(request_tag)s%(message)s"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # anything else could forge or break a log line
_request_id: ContextVar[str | None] = ContextVar("riskmgr_request_id", default=None)
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


class RequestIdFilter(logging.Filter):
    """Give each record the id of the web request being handled (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = _request_id.get()
        record.request_id = rid or "-"
        record.request_tag = f"[req {rid}] " if rid else ""
        return True


def current_request_id() -> str | None:
    """Return the id of the web request being handled in this thread, if any."""
    return _request_id.get()


class RequestIdMiddleware:
    """WSGI wrapper: pick the request id before Flask runs (so auth and error handlers log it too)."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        rid = offered if _REQUEST_ID_OK.match(offered) else uuid.uuid4().hex
        environ["riskmgr.request_id"] = rid

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
            return start_response(status, [*kept, (REQUEST_ID_HEADER, rid)], exc_info)

        token = _request_id.set(rid)
        try:
            return self.wsgi_app(environ, start)
        finally:
            _request_id.reset(token)


def init_request_ids(app: Any) -> None:
    """Wrap ``app.wsgi_app`` so every request gets an id (idempotent)."""
    if not isinstance(app.wsgi_app, RequestIdMiddleware):
        app.wsgi_app = RequestIdMiddleware(app.wsgi_app)


def formatter() -> logging.Formatter:
    """Return the line format (usable on a handler without the request-id filter too)."""
    return logging.Formatter(FORMAT, defaults={"request_tag": "", "request_id": "-"})


def build_handlers(settings: Settings) -> list[logging.Handler]:
    """Return the console handler and, outside tests, the rotating file handler, both masking secrets."""
    masking, ids = SecretMaskingFilter(), RequestIdFilter()
    # The console stream is stderr, so `flask ... --json | jq` gets clean output; platforms collect both streams.
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if not settings.testing:
        logs = settings.instance_path / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(logs / "riskmgr.log", maxBytes=5_000_000, backupCount=5,
                                                 encoding="utf-8")
        )
    for handler in handlers:
        handler.setFormatter(formatter())
        handler.addFilter(ids)
        handler.addFilter(masking)
    return handlers


def configure_logging(settings: Settings) -> None:
    """Install the handlers once per process (later calls only update the level and secrets)."""
    register_secret(settings.admin_password)
    register_secret(settings.api_token)
    register_secret(settings.secret_key)
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    if any(isinstance(f, SecretMaskingFilter) for h in root.handlers for f in h.filters):
        return
    for handler in build_handlers(settings):
        root.addHandler(handler)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
