"""The installed controls of a runtime, the switches' views, and the auto-trading override the scanner reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskmgr.controls.models import AccountControl
from riskmgr.controls.positions import PositionControls
from riskmgr.controls.switches import AccountSwitches, Switches
from riskmgr.risk.state import TradingStatus

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "controls"


def install(runtime: Runtime) -> tuple[AccountSwitches, PositionControls]:
    """Build the switches and the controls (the feature declares the pause as the gate's entry check)."""
    store = AccountSwitches(runtime.engine, runtime.clock, runtime.audit, runtime.accounts)
    return store, PositionControls(runtime)


def controls(runtime: Runtime) -> PositionControls:
    """Return the runtime's position controls."""
    return runtime.feature(PositionControls)


def switches(runtime: Runtime) -> AccountSwitches:
    """Return the runtime's account switches."""
    return runtime.feature(AccountSwitches)


def pause_entries(runtime: Runtime, account: str, paused: bool, *, reason: str, by: str) -> dict[str, Any]:
    """Pause (or resume) new entries of ``account``; a pause also cancels its resting entry orders (audited), since
    an entry already on the venue would otherwise still fill. Stops and targets stay."""
    state = switches(runtime).set_paused(account, paused, reason=reason, by=by)
    view = state.as_dict()
    if paused:
        why = f"new entries on {account} were paused" + (f" ({reason})" if reason else "")
        view["entries_cancelled"] = runtime.gateway.cancel_entries(account, actor=by, reason=why).as_dict()
    return view


def auto_trading_override(runtime: Runtime, account: str) -> tuple[bool, str] | None:
    """Return (enabled, reason) when the account's auto-trading switch is set, else None (the config decides)."""
    installed = runtime.optional_feature(AccountSwitches)  # a runtime without the feature: the config decides
    if installed is None:
        return None
    return override_of(installed.get(account))


def override_of(s: Switches) -> tuple[bool, str] | None:
    """Return (enabled, reason) when ``s`` sets auto-trading, else None (the config decides)."""
    if s.auto_trading is None:
        return None
    when = s.auto_changed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if s.auto_changed_at else "?"
    why = f": {s.auto_reason}" if s.auto_reason else ""
    word = "on" if s.auto_trading else "off"
    return s.auto_trading, f"switched {word} for this account by {s.auto_changed_by} at {when}{why}"


def switches_view(runtime: Runtime, stored: list[Switches] | None = None) -> list[dict[str, Any]]:
    """Return every account's switches with the auto-trading policy in force (and why); ``stored``: the switches
    already read (else one read for every account)."""
    if stored is None:
        stored = switches(runtime).all()
    in_force = _policies_in_force(runtime, stored)
    out = []
    for s in stored:
        policy = in_force.get(s.account)
        out.append(s.as_dict() | {
            "mode": runtime.accounts[s.account].mode,
            "auto_trading": bool(policy and policy.enabled),
            "auto_trading_reason": policy.reason if policy else "no auto-trading policy",
        })
    return out


def switch_notes(runtime: Runtime, stored: list[Switches] | None = None) -> list[str]:
    """Return the banner's notes: where auto-trading acts (it opens positions by itself), entries paused, and
    auto-trading switched off by hand (``stored``: the switches already read)."""
    if stored is None:
        stored = switches(runtime).all()
    in_force = _policies_in_force(runtime, stored)
    notes = []
    for s in stored:
        policy = in_force.get(s.account)
        if policy is not None and policy.enabled:
            notes.append(f"auto-trading ON on {s.account}")
        if s.entries_paused:
            notes.append(f"new entries PAUSED on {s.account}")
        if s.auto_trading is False:  # switched off by hand (None: as configured)
            notes.append(f"auto-trading OFF on {s.account}")
    return notes


def _policies_in_force(runtime: Runtime, stored: list[Switches]) -> dict[str, Any]:
    """Return each account's auto-trading policy with its stored switch applied."""
    from riskmgr.scanner.auto import policies  # the scanner decides; here it is only described

    overrides = {s.account: override_of(s) for s in stored}
    return {p.account: p for p in policies(runtime, runtime.settings.feature("scanner"), overrides)}


def banner(runtime: Runtime) -> tuple[TradingStatus, list[str]]:
    """Return what every page's banner shows: the trading state in force and the switches' notes, both read fresh
    in one select (so a change made by any worker, the CLI or the API shows on the very next page)."""
    status, rows = runtime.trading.current_with(AccountControl.__table__)
    return status, switch_notes(runtime, switches(runtime).of_rows(rows))
