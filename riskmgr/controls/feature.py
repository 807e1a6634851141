"""The position controls feature's hooks, as ``riskmgr.app.features`` collects them: CLI, blueprint, install."""

from __future__ import annotations

from riskmgr.controls.commands import CLI
from riskmgr.controls.service import install
from riskmgr.controls.web import bp

__all__ = ["CLI", "bp", "install"]
