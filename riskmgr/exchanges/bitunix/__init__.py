"""Bitunix USDT-M futures, by hand (no library covers it): ``constants``, ``auth`` (signing), ``client`` (the signed
REST client), ``parse`` and ``orders`` (replies read into riskmgr types) and ``adapter`` (the ExchangeAdapter).

Imports from riskmgr: ``core``, ``exchanges`` (base, retry, tiers) and ``risk.context``; this package imports
nothing on import.
"""
