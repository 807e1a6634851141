"""Rendered page shells, kept while nothing they show has changed.

The HTML pages are shells: their figures arrive from the JSON API, so the rendered text depends only on its
template context — the template's own arguments, what the context processors add (the banner: the trading state
and the account switches' notes), the user, the session's CSRF token and the path — and on the Jinja globals, which
hold only what is fixed while the app runs (the navigation, the display time zone, the labels). That whole context
is the cache key, taken fresh on every request (the banner is read each time), so a page never shows an older state
than an uncached render would. A page with flashed messages pending is always rendered (showing them consumes
them). Entries live at most ``TTL_SECONDS`` and the cache holds at most ``MAX_ENTRIES`` pages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any

from flask import current_app, request, session
from flask.signals import before_render_template, template_rendered
from flask_login import current_user

TTL_SECONDS = 60.0
MAX_ENTRIES = 256
_SKIPPED = frozenset({"g", "request", "session", "config", "current_user"})


class PageCache:
    """A small LRU of rendered pages keyed by their frozen template context."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES):
        self._ttl = ttl
        self._max = max_entries
        self._pages: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def render(self, template_name: str, **context: Any) -> str:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # the real app for the signals
        app.update_template_context(context)
        key = None if "_flashes" in session else _key(template_name, context)
        now = time.monotonic()
        if key is not None:
            with self._lock:
                entry = self._pages.get(key)
                if entry is not None and now - entry[0] < self._ttl:
                    self._pages.move_to_end(key)
                    self.hits += 1
                    return entry[1]
        template = app.jinja_env.get_or_select_template(template_name)
        before_render_template.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
        html = template.render(context)
        template_rendered.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
        if key is not None:
            with self._lock:
                self.misses += 1
                self._pages[key] = (now, html)
                self._pages.move_to_end(key)
                while len(self._pages) > self._max:
                    self._pages.popitem(last=False)
        return html


def _key(template_name: str, context: dict[str, Any]) -> tuple | None:
    """Freeze the context into a hashable key; None when some value cannot be frozen (then no caching)."""
    try:
        items = tuple(sorted((name, _freeze(value)) for name, value in context.items()
                             if name not in _SKIPPED and not callable(value)))
        user = current_user.get_id() if current_user.is_authenticated else None
        key = (template_name, request.script_root, request.full_path, user, session.get("csrf_token"), items)
        hash(key)
    except (TypeError, _Unfreezable):
        return None
    return key


class _Unfreezable(Exception):
    """A context value the key cannot represent faithfully."""


def _freeze(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(_freeze(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__, tuple(_freeze(getattr(value, f.name)) for f in fields(value)))
    try:
        hash(value)
    except TypeError as exc:
        raise _Unfreezable(type(value).__name__) from exc
    if type(value).__repr__ is object.__repr__:  # identity-hashed objects say nothing about what they show
        raise _Unfreezable(type(value).__name__)
    return (type(value).__qualname__, repr(value))


def init_app(app: Any) -> None:
    app.extensions["page_cache"] = PageCache()


def render_page(template_name: str, **context: Any) -> str:
    """Render ``template_name`` like ``render_template``, from the cache when its whole context is unchanged."""
    cache: PageCache = current_app.extensions["page_cache"]
    return cache.render(template_name, **context)
