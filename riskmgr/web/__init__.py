"""The web layer: HTML pages (``pages``), the JSON API (``api``), authentication (``auth``), error pages
(``errors``), security headers (``security``), page shells (``page_cache``) and memoised URLs (``urls``).

Layer: the top, beside ``workers``: may import everything below (import-linter contract).
"""
