"""Feature: position controls and per-account switches (issue 11, deliverable 4).

Move a position's stop / target (or the stop to break-even), close part of it or all of it with its fill and
realized P&L, cancel one order (never the last stop of an open position); pause new entries and switch
auto-trading per account. Everything goes through the one ``OrderGateway``; UI on the dashboard, JSON API under
/api/positions, /api/orders/<id> and /api/accounts/<name>, CLI ``flask positions|orders|accounts``.

The feature's hooks (CLI, blueprint, install) are in ``feature``; this package imports nothing on import.
"""
