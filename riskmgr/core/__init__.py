"""The core: the domain vocabulary every layer shares, and nothing else.

Owns: ``domain`` (frozen dataclasses and enums, money in Decimal), ``errors`` (the exception tree), ``clock`` (the
injected clocks), ``events`` (what features emit and subscribe to), ``formatting`` (Decimals as exact strings),
``labels`` (human words for machine names), ``validation`` (typed parsing of input, failures naming the field),
``secret_strength`` (the start-up check of configured secrets) and ``feature`` (what a feature declares, and the
typed registry of what installed features provide).
Layer: the bottom. Imports nothing else of riskmgr, nor Flask or SQLAlchemy (import-linter contracts).
"""
