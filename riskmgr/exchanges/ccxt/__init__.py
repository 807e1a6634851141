"""Bitget and Binance USDⓈ-M through the sync ccxt classes, vendor errors translated at this boundary.

Owns: ``adapter`` (construction, error translation, the shared reads), ``fields`` (readers of the raw fields),
``protection`` (replacing a position's stop-loss / take-profit), ``binance``, ``bitget`` and ``bitget_orders``.
May import: ``core`` and ``exchanges.base``.
"""
