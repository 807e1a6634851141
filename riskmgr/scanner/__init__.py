"""The signal scanner: scans of every USDT perpetual, their history, the Signals page and auto-trading.

Owns: ``feature`` (the feature's hooks), ``core`` (one scan: candles -> rules -> quality -> filters -> history),
``history`` and ``models`` (scan runs, signals seen, auto-trading decisions), ``auto`` (auto-trading through the
order gateway), ``views`` (what the page, API and CLI show), ``web`` (the page and its API) and ``cli``.
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
