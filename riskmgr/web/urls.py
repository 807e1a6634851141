"""A memo in front of ``url_for`` for templates: every page builds the same two dozen links.

Only plain relative URLs are memoised (no ``_external``, ``_scheme``, ``_anchor`` or ``_method``); the key holds
the request's script root, so an app served under a proxy prefix still gets its own links. Anything else goes
straight to Flask's ``url_for``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request

_MEMO_LIMIT = 4096


def memoised_url_for(app: Flask) -> Callable[..., str]:
    """Return a ``url_for`` for Jinja that remembers plain relative URLs per (script root, endpoint, values)."""
    memo: dict[tuple, str] = {}
    build = app.url_for

    def url_for(endpoint: str, **values: Any) -> str:
        if values:
            if any(key.startswith("_") for key in values):
                return build(endpoint, **values)
            try:
                params: tuple = tuple(sorted(values.items()))
                hash(params)
            except TypeError:  # unhashable values: build it every time
                return build(endpoint, **values)
        else:
            params = ()
        # a relative endpoint (".name") resolves against the blueprint of the request
        scope = request.blueprint if endpoint.startswith(".") else None
        key = (request.script_root, scope, endpoint, params)
        url = memo.get(key)
        if url is None:
            url = build(endpoint, **values)
            if len(memo) < _MEMO_LIMIT:
                memo[key] = url
        return url

    return url_for


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = memoised_url_for(app)
