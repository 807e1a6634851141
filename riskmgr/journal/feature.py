"""The journal feature as ``riskmgr.app.features`` wires it: blueprint, nav entry, CLI, service and poll hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskmgr.journal.cli import trades_cli
from riskmgr.journal.views import FEATURE_KEY, bp

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime
    from riskmgr.core.domain import AccountSnapshot

__all__ = ["CLI", "NAV", "bp", "install", "poll_hook"]

NAV = [("journal.page", "Journal")]
CLI = [trades_cli]


def install(runtime: Runtime) -> None:
    """Attach the journal service to the runtime."""
    from riskmgr.journal.service import JournalService

    runtime.features[FEATURE_KEY] = JournalService(runtime)


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Store live venues' new closed trades now and then, so the journal keeps them past the venues' windows."""
    runtime.features[FEATURE_KEY].capture(snapshots)
