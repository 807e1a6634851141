"""The dashboard's snapshot view, built once and served from one row (and each worker's memory) until it changes.

``services.snapshot_view`` reads every stored snapshot, the account states, the limits, the trading state, the
watchdog and the audit log. The poll job builds it after every cycle and stores it in the ``view_cache`` row with
its *stamp*: the newest audit event's id and the newest snapshot's time. Everything else the view shows changes
only with an audited action (trading state, limits, entry cancellations, the watchdog's episodes) or with a poll,
so a request compares the stored stamp with the current one (one query) and rebuilds only when they differ.

Per request only what depends on the clock is computed: ``generated_at``, each unprotected position's
``seconds``, and the accounts' staleness by age and today's P&L (``riskmgr.accounts.freshness``). The ETag names the
view's content without those (``W/"<version>"``), plus a suffix when aging changed it; ``If-None-Match`` with it
is a 304. A view is not stored while an account has never been polled (its placeholder carries the request's time).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from riskmgr.accounts import freshness, services
from riskmgr.persistence.models import ViewCache

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "snapshot"
_memory: dict[str, Any] = {}  # version -> parsed view, per worker process (content-addressed: safe across apps)
_memory_lock = threading.Lock()
_templates: dict[int, tuple[dict[str, Any], str]] = {}  # the remembered view's JSON with a slot for generated_at
_GENERATED = "@generated_at@"


# one statement, built once: what the view would be built from now, and what the stored one was built from
_STAMP_SQL = text(
    "SELECT (SELECT max(id) FROM audit_event), (SELECT max(attempted_at) FROM snapshot_record), "
    "(SELECT count(*) FROM snapshot_record), "
    "(SELECT stamp FROM view_cache WHERE name = :name), (SELECT version FROM view_cache WHERE name = :name)"
)


def _stamps(connection: Connection) -> tuple[str, str | None, str | None]:
    """Return (current stamp, stored view's stamp, stored view's version)."""
    audit_id, newest, count, stored, version = connection.execute(_STAMP_SQL, {"name": NAME}).one()
    return f"{audit_id or 0}|{newest or '-'}|{count}", stored, version


def rebuild(runtime: Runtime) -> tuple[str, dict[str, Any]]:
    """Build the view now, store it (unless an account was never polled); return (version, view)."""
    with runtime.engine.connect() as connection:
        stamp = _stamps(connection)[0]  # read before building: a change made meanwhile makes the next one rebuild
    view = services.snapshot_view(runtime)
    version = _version(view)
    if any(a["error"] == services.NOT_POLLED for a in view["accounts"]):
        return version, view
    values = {"name": NAME, "stamp": stamp, "version": version, "built_at": runtime.clock.now(),
              "body": json.dumps(view, separators=(",", ":"))}
    with Session(runtime.engine) as session, session.begin():
        # an upsert: a request and the poller (or two workers) may build the view at the same moment
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = maker(ViewCache).values(**values)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["name"], set_={k: stmt.excluded[k] for k in ("stamp", "version", "built_at", "body")}))
    _remember(version, view)
    return version, view


def cached(runtime: Runtime) -> tuple[str, dict[str, Any]]:
    """Return (version, view) as stored when it is still current, else built now; no clock-derived field updated."""
    with runtime.engine.connect() as connection:
        stamp, stored, version = _stamps(connection)
        if version is not None and stored == stamp:
            view = _memory.get(version)
            if view is None:
                body = connection.execute(select(ViewCache.body).where(ViewCache.name == NAME)).scalar_one()
                view = _remember(version, json.loads(body))
            return version, view
    return rebuild(runtime)


def render(view: dict[str, Any], now: datetime) -> str:
    """Return the view as JSON for ``now``; without unprotected positions only ``generated_at`` is filled in."""
    if view["unprotected"] or freshness.needs_aging(view, now):
        return json.dumps(as_of(view, now), separators=(",", ":"))
    template = _templates.get(id(view))
    if template is None or template[0] is not view:
        template = (view, json.dumps({**view, "generated_at": _GENERATED}, separators=(",", ":")))
        _templates.clear()
        _templates[id(view)] = template
    return template[1].replace(f'"generated_at":"{_GENERATED}"', f'"generated_at":{json.dumps(now.isoformat())}', 1)


def as_of(view: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return the view with its clock-derived fields computed for ``now`` (the stored view is not changed)."""
    unprotected = [{**u, "seconds": round((now - datetime.fromisoformat(u["since"])).total_seconds())}
                   for u in view["unprotected"]]
    aged = freshness.age_view(view, now)  # figures older than the limit are stale whatever the last poll said
    return {**aged, "generated_at": now.isoformat(), "unprotected": unprotected}


def _version(view: dict[str, Any]) -> str:
    content = {**view, "generated_at": None, "unprotected": [{**u, "seconds": None} for u in view["unprotected"]]}
    return hashlib.sha1(json.dumps(content, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _remember(version: str, view: dict[str, Any]) -> dict[str, Any]:
    with _memory_lock:
        _memory.clear()  # only the newest view is worth keeping
        _memory[version] = view
    return view
