"""Accounts: the accounts riskmgr watches, their poll, their stop-loss watchdog and what the dashboard shows.

Owns: ``registry`` (paper and live accounts from the environment, their self-test), ``monitor`` (the poll cycle),
``watchdog`` and ``watchdog_store`` (an exchange-side stop on every position, re-placed when missing), ``feature``
(the watchdog feature: the Accounts page, its API, the self-test and their CLI), ``freshness`` (stale by age, honest
totals), ``liveness`` (the poller's heartbeat), ``equity_history`` (the equity chart's points and roll-ups),
``services`` (the figures shared by pages, API, CLI and jobs) and ``view_cache`` (the stored dashboard view).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
