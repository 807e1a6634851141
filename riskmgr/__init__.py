"""riskmgr: a conservative risk dashboard for USDT-margined crypto perpetual futures.

Importing the package imports nothing else: the domain packages load without Flask. ``create_app`` (the one
composition root, in ``riskmgr.app.factory``) is imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from riskmgr.app.factory import create_app

        return create_app
    raise AttributeError(f"module 'riskmgr' has no attribute {name!r}")
