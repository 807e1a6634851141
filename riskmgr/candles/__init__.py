"""Candles: the store of closed OHLCV bars per (source, symbol, timeframe) and the public data it is filled from.

Owns: ``store`` (the candle store), ``sources`` (exchanges' public listings and klines, no keys), ``ccxt_source``
(Binance and Bitget public data through ccxt) and ``clean`` (judging raw rows, finding holes).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
