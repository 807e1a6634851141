"""The risk limits in force: the environment's values plus the operator's audited changes, persisted."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from riskmgr.core.errors import ConfigError, ValidationError
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.models import AppSetting
from riskmgr.risk.config import FIELDS, RiskLimits

KEY = "risk_limits_overrides"
CAS_ATTEMPTS = 20
_NAMES = {f.name for f in FIELDS}


class LimitsStore:
    """Read the limits in force and change them (validated, audited, kept across restarts)."""

    def __init__(self, engine: Engine, audit: AuditLog, base: RiskLimits):
        self._engine = engine
        self._audit = audit
        self._base = base
        self._lock = threading.Lock()

    def overrides(self) -> dict[str, Any]:
        """Return the operator's stored changes (field -> JSON value)."""
        with Session(self._engine) as session:
            row = session.get(AppSetting, KEY)
            return json.loads(row.value) if row else {}

    def current(self) -> RiskLimits:
        """Return the limits in force."""
        overrides = self.overrides()
        try:
            return self._base.with_changes(**overrides)
        except ValidationError as exc:
            raise ConfigError(
                f"stored risk limit change {exc.field} no longer fits the environment's limits: {exc.message}; "
                "fix it on the Risk page or with PUT /api/risk/limits"
            ) from None

    def _raw(self) -> str | None:
        with Session(self._engine) as session:
            return session.scalar(select(AppSetting.value).where(AppSetting.key == KEY))

    def _swap(self, expected: str | None, value: str) -> bool:
        """Store ``value`` only if the row still holds ``expected`` (compare-and-swap); return whether it did.

        Two processes editing the limits at once: the one whose swap fails reads again and re-applies its change
        over the other's, so no edit is lost — on SQLite and PostgreSQL alike, without holding a lock meanwhile.
        """
        table = cast(Table, AppSetting.__table__)  # a declarative model's table
        stmt: UpdateBase
        with Session(self._engine) as session, session.begin():
            if expected is None:
                maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
                stmt = maker(table).values(key=KEY, value=value).on_conflict_do_nothing().returning(table.c.key)
            else:
                stmt = (update(table).where(table.c.key == KEY, table.c.value == expected).values(value=value)
                        .returning(table.c.key))
            return session.execute(stmt).first() is not None

    def base(self) -> RiskLimits:
        """Return the limits the environment sets, before the operator's changes."""
        return self._base

    def update(self, changes: Mapping[str, Any], by: str) -> RiskLimits:
        """Apply ``changes`` (validated together), persist them and audit old and new values."""
        unknown = sorted(set(changes) - _NAMES)
        if unknown:
            raise ValidationError(unknown[0][:64], f"is not a risk limit; known: {', '.join(sorted(_NAMES))}")
        if not changes:
            raise ValidationError("limits", "no change given")
        with self._lock:
            for _ in range(CAS_ATTEMPTS):
                raw = self._raw()
                stored = json.loads(raw) if raw is not None else {}
                try:
                    old, repair = self._base.with_changes(**stored), False
                except ValidationError:
                    # the stored changes no longer fit the environment (current() refuses them): this update repairs
                    old, repair = self._base, True
                # applied over the stored changes, so a repair keeps every stored change that still fits
                new = self._base.with_changes(**{**stored, **dict(changes)})
                diff = old.diff(new)
                if not diff and not repair:
                    return old
                stored.update({name: new.to_dict()[name] for name in (changes if repair else diff)})
                if self._swap(raw, json.dumps(stored)):
                    break
            else:
                raise ValidationError("limits", f"changed by someone else {CAS_ATTEMPTS} times in a row; try again")
        summary = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in diff.items())
        self._audit.record(
            "limits.change", by, summary or "stored limit changes repaired to fit the environment",
            data={"changes": {k: {"old": a, "new": b} for k, (a, b) in diff.items()}},
        )
        return new
