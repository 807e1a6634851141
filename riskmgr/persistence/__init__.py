"""Persistence: the database binding, the core tables and the stores every feature writes through.

Owns: ``extensions`` (Flask-SQLAlchemy, Flask-Migrate, login and CSRF extensions, bound in ``create_app``),
``models`` (core tables and column types), ``audit`` (the append-only audit log) and ``snapshots`` (the latest
account snapshot per account).
Imports from riskmgr: ``accounts``, ``alerts``, ``app``, ``backtest``, ``core``, ``exchanges``, ``journal``,
``risk``, ``scanner``, ``web``.
"""
