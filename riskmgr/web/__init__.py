"""The web layer: every page and its API, one module per page area named by what the user sees (``pages`` and
``api`` for the dashboard and the trade ticket, ``risk``, ``emergency``, ``accounts``, ``controls``, ``signals``,
``backtests``, ``journal``, ``alerts``, ``metrics``, ``liveness``), listed in navigation order in ``areas``;
authentication (``auth``), error pages (``errors``), security headers (``security``), page shells (``page_cache``),
sessions (``sessions``) and memoised URLs (``urls``).

Layer: the top, beside ``workers``: may import everything below (import-linter contract).
"""
