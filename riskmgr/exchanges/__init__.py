"""Exchanges: every venue behind one interface, vendor errors translated at this boundary.

Owns: ``base`` (the ``ExchangeAdapter`` interface every venue implements), ``reader`` (an account's reads with
retries), ``retry``, ``fills`` (the fill, fee, funding and liquidation rules shared with the backtester), ``tiers``;
one folder per venue: ``bitunix/`` (the hand-written signed client), ``ccxt/`` (Bitget and Binance USDⓈ-M through
ccxt) and ``paper/`` (the paper exchange, an explicit DEMO mode).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
