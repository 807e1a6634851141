"""Alerts: Telegram, e-mail and log alerts for the events that matter, with their page, API and CLI.

Owns: ``feature`` (the feature's hooks), ``settings`` (validated, secrets never shown), ``channels`` (where alerts
go), ``dispatch`` (toggles, de-duplication, rate limit, history), ``queue`` (the background delivery queue),
``shared`` (de-duplication and rate limits shared through the database) and ``models`` (their tables).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
