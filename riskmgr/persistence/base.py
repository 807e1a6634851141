"""The plain SQLAlchemy declarative base every table subclasses, with the constraint naming convention.

No Flask here: the domain's tables import without the web stack. Flask-SQLAlchemy (``extensions.db``) is the web
binding over this base: ``SQLAlchemy(model_class=Base)`` shares its metadata, so ``db.create_all``, the sessions
and Alembic see every table.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
