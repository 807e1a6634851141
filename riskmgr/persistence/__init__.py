"""Persistence: the database binding, the core tables and the stores every feature writes through.

Owns: ``extensions`` (Flask-SQLAlchemy, Flask-Migrate, login and CSRF extensions, bound in ``create_app``),
``models`` (core tables and column types), ``audit`` (the append-only audit log) and ``snapshots`` (the latest
account snapshot per account).
Layer: above ``core`` only (import-linter contract); the tables of each feature live in the feature.
"""
