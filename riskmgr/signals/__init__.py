"""Signals: indicators and the conservative signal rules, shared by the scanner, the backtester and the pages.

Owns: ``indicators`` (TA-Lib over numpy arrays), ``rules`` (the vectorised rules, applied block by block in
``blocks``), ``params`` (their validated settings and reason codes), ``conservative`` (a trade only when several
independent checks agree), ``quality`` (the ranking score), ``filters`` (between a scan and a trade) and ``trade``
(can a signal be traded by hand now).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
