"""The simulated market: the default, clearly labelled DEMO data source (a pure function of seed, symbol, time).

Owns: ``market`` (the MarketData implementation), ``specs`` (the symbol table), ``daily``, ``intraday`` and
``ticks`` (the three layers of the price model) and ``store`` (the caches of generated hours).
May import: ``core`` and ``market.base``; never Flask or the database.
"""
