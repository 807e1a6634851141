"""Extensions created unbound here and bound to the app in ``create_app`` with ``init_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from riskmgr.persistence.base import Base

db = SQLAlchemy(model_class=Base)


class LazyMigrateGroup(click.Group):
    """The ``flask db`` commands, which import Flask-Migrate (and Alembic) only when one of them is looked up.

    A web worker never runs them, so it never pays for the migration tooling's imports and memory.
    """

    def __init__(self, app: Flask, directory: Path):
        super().__init__("db", help="Database migrations (Flask-Migrate / Alembic).")
        self._app = app
        self._directory = directory

    def _real(self) -> click.Group:
        from flask_migrate import Migrate
        from flask_migrate.cli import db as group

        if "migrate" not in self._app.extensions:
            Migrate(self._app, db, directory=str(self._directory))
        return group

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # the real group parses its own options (--directory, -x) and runs its callback
        return self._real().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Any:
        return self._real().get_command(ctx, cmd_name)


def init_migrations(app: Flask, directory: Path) -> None:
    """Register ``flask db`` without importing the migration tooling now."""
    app.cli.add_command(LazyMigrateGroup(app, directory))
login_manager = LoginManager()
csrf = CSRFProtect()
