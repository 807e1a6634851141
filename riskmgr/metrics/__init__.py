"""Metrics: Prometheus ``/metrics`` from a registry of this app's own.

Owns: ``prometheus`` (the registry, the collectors and the route, authenticated like every route).
Imports from riskmgr: ``accounts``, ``alerts``, ``app``, ``core``.
"""
