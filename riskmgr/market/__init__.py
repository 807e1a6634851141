"""Market data: the ``MarketData`` interface and candle arrays (``base``); ``sim/``, the simulated market (the
default, labelled DEMO).

Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
