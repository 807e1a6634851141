"""Metrics: Prometheus ``/metrics`` from a registry of this app's own.

Owns: ``prometheus`` (the registry, the collectors and the route, authenticated like every route).
Layer: a feature. May import other features, ``persistence`` and ``core``; never ``app``, ``web`` or ``workers``
(import-linter contract, with the remaining exceptions named in pyproject.toml).
"""
