"""The trade journal: closed trades per account (paper ledger fills, venues' closed-trade history, riskmgr's own
intents for the exit reason and the opening signal), their aggregations, the Journal page, ``GET /api/trades``
(JSON or CSV), ``flask trades`` and the fill / realized P&L of closes sent through the gate.

The feature's hooks (blueprint, nav entry, CLI, install, poll hook) are in ``feature``; this package module imports
nothing, so ``riskmgr.persistence.models`` can import the journal's table without an import cycle.
"""
