"""The journal feature as ``riskmgr.app.features`` lists it: the service and its poll hook (the page is
``riskmgr.web.journal``, ``flask trades`` is ``riskmgr.app.cli.journal``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskmgr.core.feature import Feature
from riskmgr.journal.service import JournalService

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime
    from riskmgr.core.domain import AccountSnapshot

__all__ = ["FEATURE", "install", "poll_hook"]


def install(runtime: Runtime) -> tuple[JournalService]:
    """Build the journal service."""
    return (JournalService(runtime),)


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Store live venues' new closed trades now and then, so the journal keeps them past the venues' windows."""
    runtime.feature(JournalService).capture(snapshots)


FEATURE = Feature(name="journal", install=install, provides=(JournalService,), poll_hook=poll_hook)
