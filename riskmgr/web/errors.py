"""One error handler: JSON for /api/* (and /metrics), an HTML page otherwise; rollback on 500.

Request size: a body above ``MAX_REQUEST_BYTES`` (a view marked ``large_body``, such as the CSV dataset upload:
``MAX_UPLOAD_BYTES``) is refused with a 413 naming the limit, before anything reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.persistence.extensions import db

log = logging.getLogger(__name__)


def _json_wanted() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics" or request.is_json


def _answer(status: int, error: str, detail: object):
    if _json_wanted():
        return jsonify(error=error, detail=detail), status
    return render_template("error.html", status=status, error=error, detail=detail), status


def _validation(exc: ValidationError):
    return _answer(400, f"invalid {exc.field}", {"field": exc.field, "message": exc.message})


def _exchange(exc: ExchangeError):
    log.warning("exchange error answered as 502: %s", exc.describe())
    return _answer(502, "exchange error", exc.describe())


def _http(exc: HTTPException):
    return _answer(exc.code or 500, (exc.name or "error").lower(), exc.description)


def large_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view whose body may be as large as MAX_UPLOAD_BYTES (file uploads) instead of MAX_REQUEST_BYTES."""
    view.large_body = True  # type: ignore[attr-defined]  # a mark on the view function, read by the size check
    return view


def _limit() -> tuple[int, str]:
    settings = current_app.config["RISKMGR"]
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "large_body", False):
        return settings.max_upload_bytes, "MAX_UPLOAD_BYTES"
    return settings.max_request_bytes, "MAX_REQUEST_BYTES"


def _check_size() -> None:
    limit, _ = _limit()
    request.max_content_length = limit  # a body without Content-Length is cut off at the limit while read
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _too_large(exc: RequestEntityTooLarge):
    limit, setting = _limit()
    message = f"the request body is larger than the {limit} bytes allowed ({setting})"
    if request.content_length is not None and request.content_length <= limit:  # the form parser's own limits
        limit = current_app.config.get("MAX_FORM_MEMORY_SIZE") or limit
        message = f"a form field is larger than {limit} bytes, or the form has too many parts"
    return _answer(413, "request too large", {"field": "body", "message": message, "limit": limit})


def _internal(exc: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _answer(500, "internal error", "the error was logged with the request details")


def init_app(app: Flask) -> None:
    """Register the handlers and the request size limit."""
    app.config["MAX_CONTENT_LENGTH"] = app.config["RISKMGR"].max_request_bytes
    app.before_request(_check_size)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(ValidationError, _validation)
    app.register_error_handler(ExchangeError, _exchange)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _internal)
