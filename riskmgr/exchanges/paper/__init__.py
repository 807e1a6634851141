"""The paper exchange: a simulated USDT-margined futures account kept in the database (an explicit DEMO mode).

Owns: ``exchange`` (the adapter), ``orders`` (order entry and margin checks), ``matching`` (limit fills, triggers
and liquidations along the market's price path), ``ledger`` (the books inside one locked transaction),
``funding``, ``liquidation``, ``notices`` (liquidations audited and alerted once), ``views`` and ``models``.
May import: ``core``, ``persistence``, ``market``, ``exchanges.base`` and ``exchanges.fills``.
"""
