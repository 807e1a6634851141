"""Candles: the store of closed OHLCV bars per (source, symbol, timeframe) and the public data it is filled from.

Owns: ``store`` (the candle store), ``sources`` (exchanges' public listings and klines, no keys), ``ccxt_source``
(Binance and Bitget public data through ccxt) and ``clean`` (judging raw rows, finding holes).
Imports from riskmgr: ``core``, ``exchanges``, ``market``, ``scanner``.
"""
