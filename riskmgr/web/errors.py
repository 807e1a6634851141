"""One error handler: JSON for /api/* (and /metrics), an HTML page otherwise; rollback on 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from riskmgr.errors import ExchangeError, ValidationError
from riskmgr.extensions import db

log = logging.getLogger(__name__)


def _json_wanted() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics" or request.is_json


def _answer(status: int, error: str, detail: object):  # type: ignore[no-untyped-def]
    if _json_wanted():
        return jsonify(error=error, detail=detail), status
    return render_template("error.html", status=status, error=error, detail=detail), status


def _validation(exc: ValidationError):  # type: ignore[no-untyped-def]
    return _answer(400, f"invalid {exc.field}", {"field": exc.field, "message": exc.message})


def _exchange(exc: ExchangeError):  # type: ignore[no-untyped-def]
    log.warning("exchange error answered as 502: %s", exc.describe())
    return _answer(502, "exchange error", exc.describe())


def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
    return _answer(exc.code or 500, (exc.name or "error").lower(), exc.description)


def _internal(exc: Exception):  # type: ignore[no-untyped-def]
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _answer(500, "internal error", "the error was logged with the request details")


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(ValidationError, _validation)
    app.register_error_handler(ExchangeError, _exchange)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _internal)
