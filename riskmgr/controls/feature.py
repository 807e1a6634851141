"""The position controls feature as ``riskmgr.app.features`` lists it: its switches and controls and the pause as an
entry check of the order gate (their API is ``riskmgr.web.controls``, their CLI ``riskmgr.app.cli.controls``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskmgr.controls.positions import PositionControls
from riskmgr.controls.service import NAME, install, switches
from riskmgr.controls.switches import AccountSwitches
from riskmgr.core.feature import EntryCheck, Feature

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

__all__ = ["FEATURE"]


def entry_checks(runtime: Runtime) -> list[EntryCheck]:
    """A paused account's new entries are denied by the gate (closes, stop moves and cancels still pass)."""
    return [switches(runtime).entry_check]


FEATURE = Feature(name=NAME, install=install, provides=(AccountSwitches, PositionControls),
                  entry_checks=entry_checks)
