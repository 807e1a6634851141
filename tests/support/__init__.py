"""Helpers shared by tests of several packages: one place each (servers, apps, venues, the paper gate)."""
