"""Use-cases shared by the pages, the JSON API, the CLI and the jobs: a figure is computed in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts import equity_history as equity_history_module
from riskmgr.accounts import freshness
from riskmgr.core.domain import AccountSnapshot, AccountStatus, Order, Position
from riskmgr.core.formatting import dec
from riskmgr.persistence.models import AccountState
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.protection import by_symbol, find_protection

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

MAX_EQUITY_POINTS = equity_history_module.MAX_POINTS
NOT_POLLED = "not polled yet"


_s = dec


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == 0:
        return None
    return (part / whole * 100).quantize(Decimal("0.01"))


def position_view(position: Position, orders: Sequence[Order], runtime: Runtime,
                  limits: RiskLimits | None = None) -> dict[str, Any]:
    """Describe one position for the dashboard: figures, risk level and resting protection."""
    from riskmgr.risk.levels import risk_level

    protection = find_protection(position, orders)
    return {
        "symbol": position.symbol,
        "side": position.side.value,
        "size": _s(position.size),
        "entry_price": _s(position.entry_price),
        "mark_price": _s(position.mark_price),
        "leverage": _s(position.leverage),
        "margin_mode": position.margin_mode.value,
        "liquidation_price": _s(position.liquidation_price),
        "unrealized_pnl": _s(position.unrealized_pnl),
        "pnl_pct": _s(position.pnl_pct.quantize(Decimal("0.01"))),
        "notional": _s(position.notional.quantize(Decimal("0.01"))),
        "risk_level": risk_level(position, limits or runtime.limits()).value,
        "stop_loss": {
            "present": protection.stop_loss is not None,
            "price": _s(protection.stop_loss),
            "covers_full_size": protection.stop_covers_full_size,
        },
        "take_profit": {"present": protection.take_profit is not None, "price": _s(protection.take_profit)},
    }


def _order_view(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "client_id": order.client_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "qty": _s(order.qty),
        "price": _s(order.price),
        "trigger_price": _s(order.trigger_price),
        "reduce_only": order.reduce_only,
        "close_position": order.close_position,
    }


def account_view(snap: AccountSnapshot, state: AccountState | None, runtime: Runtime,
                 limits: RiskLimits | None = None) -> dict[str, Any]:
    """Describe one account: real figures with their time, or none, plus status and reason."""
    bal = snap.balance
    limits = limits or runtime.limits()  # read once for every position, not once per position
    orders = by_symbol(snap.orders)
    view: dict[str, Any] = {
        "name": snap.account,
        "exchange": snap.exchange,
        "mode": snap.mode,
        "simulated": snap.simulated,
        "status": snap.status.value,
        "fetched_at": snap.fetched_at.isoformat() if snap.fetched_at else None,
        "attempted_at": snap.attempted_at.isoformat(),
        "stale_since": snap.stale_since.isoformat() if snap.stale_since else None,
        "error": snap.error,
        "equity_estimated": False, "equity_formula": None,
        "equity": None, "wallet": None, "available": None, "margin_used": None, "unrealized_pnl": None,
        "day_pnl": None, "day_pnl_pct": None, "day_start_equity": None, "peak_equity": None, "drawdown_pct": None,
        "day_baseline_day": None, "day_pnl_note": None,
        "positions": [position_view(p, orders.get(p.symbol, ()), runtime, limits) for p in snap.positions],
        "orders": [_order_view(o) for o in snap.orders],
    }
    if bal is not None:
        view.update(
            equity=_s(bal.equity), wallet=_s(bal.wallet), available=_s(bal.available),
            margin_used=_s(bal.margin_used), unrealized_pnl=_s(bal.unrealized_pnl),
            equity_estimated=bal.equity_formula is not None, equity_formula=bal.equity_formula,
        )
    if bal is not None and state is not None:
        day_pnl = bal.equity - state.day_start_equity
        view.update(
            day_pnl=_s(day_pnl),
            day_pnl_pct=_s(_pct(day_pnl, state.day_start_equity)),
            day_start_equity=_s(state.day_start_equity),
            day_baseline_day=state.day,
            peak_equity=_s(state.peak_equity),
            drawdown_pct=_s(_pct(max(state.peak_equity - bal.equity, Decimal(0)), state.peak_equity)),
        )
    return view


def _totals(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    totals = freshness.totals(accounts)
    totals["estimated_accounts"] = [a["name"] for a in accounts
                                    if a["equity"] is not None and a.get("equity_estimated")]
    return totals


def trading_status_view(runtime: Runtime) -> dict[str, Any]:
    """Describe the trading state in force."""
    status = runtime.trading.current()
    return {
        "state": status.state.value,
        "reason": status.reason,
        "changed_at": status.changed_at.isoformat() if status.changed_at else None,
        "changed_by": status.changed_by,
    }


def snapshot_view(runtime: Runtime) -> dict[str, Any]:
    """Return the dashboard's whole picture: trading state, every account, totals."""
    snaps = runtime.snapshots.latest()
    with Session(runtime.engine) as session:
        states = {s.account: s for s in session.scalars(select(AccountState))}
    limits = runtime.limits()
    accounts = [
        account_view(snaps[name], states.get(name), runtime, limits) if name in snaps else _never_polled(runtime, name)
        for name in runtime.accounts
    ]
    now = runtime.clock.now()
    view = {
        "generated_at": now.isoformat(),
        "freshness": freshness.params(limits.stale_after_seconds, limits.risk_day_timezone),
        "trading_state": trading_status_view(runtime),
        "market": {"source": getattr(runtime.market, "source", "?"), "simulated": bool(runtime.market.simulated)},
        "accounts": accounts,
        "totals": _totals(accounts),
        "unprotected": _unprotected(runtime),
        "entry_cancellations": entry_cancellations(runtime),
    }
    return freshness.age_view(view, now)  # stale by age, today's P&L only against today's baseline


ENTRY_CANCELLATIONS_SHOWN = timedelta(hours=24)


def entry_cancellations(runtime: Runtime) -> list[dict[str, Any]]:
    """Return the last day's cancellations of resting entries (new risk stopped), newest first, at most 5."""
    since = runtime.clock.now() - ENTRY_CANCELLATIONS_SHOWN
    return [
        {"ts": e["ts"], "account": e["account"], "message": e["message"], "failed": e["kind"].endswith("_failed")}
        for e in runtime.audit.query(since=since, kind="order.entries_cancel", limit=5)
    ]


def _unprotected(runtime: Runtime) -> list[dict[str, Any]]:
    from riskmgr.accounts.watchdog import ProtectionWatchdog  # the page shows it; the watchdog reads services

    watchdog = runtime.optional_feature(ProtectionWatchdog)
    return watchdog.unprotected() if watchdog is not None else []


def _never_polled(runtime: Runtime, name: str) -> dict[str, Any]:
    adapter = runtime.accounts[name]
    snap = AccountSnapshot(
        account=name, exchange=adapter.exchange, mode=adapter.mode, status=AccountStatus.ERROR,
        attempted_at=runtime.clock.now(), fetched_at=None, error=NOT_POLLED, simulated=adapter.simulated,
    )
    return account_view(snap, None, runtime)


def equity_history(runtime: Runtime, account: str | None, since: datetime | None) -> dict[str, Any]:
    """Return equity points per account since ``since`` (default 24 h), at most 2000 per account, with resolution."""
    return equity_history_module.history(runtime, account, since)
