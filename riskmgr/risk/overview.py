"""What the Risk and Audit pages and ``flask risk status`` show, computed from the runtime (no Flask): each
account's headroom per rule, the limits in force, and the audit log read newest first.

The pages themselves are ``riskmgr.web.risk``. The audit log is only ever read here: nothing is deleted by the app.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts import services
from riskmgr.core.domain import AccountStatus
from riskmgr.core.errors import ConfigError
from riskmgr.core.formatting import dec
from riskmgr.core.labels import sentence_time
from riskmgr.persistence.models import AuditEvent
from riskmgr.risk.config import FIELDS, RiskLimits, field_table
from riskmgr.risk.pretrade import AccountPicture
from riskmgr.risk.sizing import HUNDRED, fmt_money
from riskmgr.risk.state import DrawdownTier, daily_loss_pct, drawdown_pct, drawdown_tier, next_day_start

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

_PCT = Decimal("0.01")


def risk_view(runtime: Runtime) -> dict[str, Any]:
    """Return the limits in force (with their table), the trading state and each account's headroom per rule."""
    limits, error = limits_in_force(runtime)
    stored = runtime.limits_store.overrides()
    environment = runtime.limits_store.base().to_dict()
    in_force = limits.to_dict() if limits is not None else {}
    fields = [
        row | {
            "allowed": spec.allowed(), "value": in_force.get(spec.name), "environment": environment[spec.name],
            "changed": spec.name in stored, "stored": stored.get(spec.name),
        }
        for row, spec in zip(field_table(), FIELDS, strict=True)
    ]
    return {
        "generated_at": runtime.clock.now().isoformat(),
        "trading_state": services.trading_status_view(runtime),
        "limits": in_force or None,
        "limits_error": error,
        "fields": fields,
        "accounts": [] if limits is None else account_headroom(runtime, limits),
    }


def limits_in_force(runtime: Runtime) -> tuple[RiskLimits | None, str | None]:
    """Return the limits in force, or None and why they cannot be read (stored changes misfit the environment)."""
    try:
        return runtime.limits(), None
    except ConfigError as exc:
        return None, str(exc)


# -- headroom per account ----------------------------------------------------------------------------------------
def account_headroom(runtime: Runtime, limits: RiskLimits) -> list[dict[str, Any]]:
    """Return, per account, where it stands against each account-level rule and how much room is left."""
    pretrade = runtime.pretrade
    latest = runtime.snapshots.latest()  # before the clock, as the gate reads them: no snapshot is newer than now
    now = runtime.clock.now()
    out = []
    for name in runtime.accounts:
        picture = pretrade.picture(name, now, limits, latest)
        snap = picture.snapshot
        out.append({
            "account": name,
            "status": snap.status.value if snap else "error",
            "fetched_at": snap.fetched_at.isoformat() if snap and snap.fetched_at else None,
            "error": snap.error if snap else "not polled yet",
            "equity": dec(snap.balance.equity) if snap and snap.balance else None,
            "rules": _rows(picture, limits, now),
        })
    return out


def _row(rule: str, label: str, status: str, detail: str, **figures: Any) -> dict[str, Any]:
    """Return one status row; figures are used, limit, unit, headroom, headroom_unit, fraction (0..1 of the limit)."""
    keys = ("used", "limit", "unit", "headroom", "headroom_unit", "fraction")
    return {"rule": rule, "label": label, "status": status, "detail": detail} | {k: figures.get(k) for k in keys}


def _rows(picture: AccountPicture, limits: RiskLimits, now: datetime) -> list[dict[str, Any]]:
    snap = picture.snapshot
    rows = [_fresh_row(picture, limits, now)]
    if snap is None or snap.balance is None:
        why = "no account figures yet" if snap is None else f"no account figures: {snap.error}"
        rows += [
            _row(rule, label, "unknown", f"{why}: new risk is denied")
            for rule, label in (
                ("daily_loss", "Daily loss"), ("drawdown", "Drawdown from peak"),
                ("max_open_positions", "Open positions"), ("max_leverage", "Account leverage"),
            )
        ]
    else:
        equity = snap.balance.equity
        rows += [
            _daily_row(picture, limits, equity, now), _drawdown_row(picture, limits, equity),
            _positions_row(len(snap.positions), limits), _leverage_row(snap, limits, equity),
        ]
    return [*rows, _streak_row(picture, limits, now)]


def _fraction(used: Decimal, limit: Decimal) -> str | None:
    return dec(min(max(used / limit, Decimal(0)), Decimal(1)).quantize(_PCT)) if limit > 0 else None


def _fresh_row(picture: AccountPicture, limits: RiskLimits, now: datetime) -> dict[str, Any]:
    snap, limit = picture.snapshot, limits.stale_after_seconds
    if snap is None or snap.fetched_at is None:
        return _row("data_fresh", "Data freshness", "breached", "never read successfully: no new risk",
                    limit=str(limit), unit="s")
    age = Decimal(str((now - snap.fetched_at).total_seconds()))
    shown = dec(age.quantize(Decimal("0.1")))  # judged unrounded, like the data_fresh rule
    figures = {"used": shown, "limit": str(limit), "unit": "s", "fraction": _fraction(age, Decimal(limit))}
    if snap.status is not AccountStatus.OK:
        return _row("data_fresh", "Data freshness", "breached", f"{snap.status.value}: {snap.error}", **figures)
    ok = 0 <= age <= limit
    detail = f"read {shown} s ago (limit {limit} s)" + ("" if ok else ": outside the limit, no new risk")
    return _row("data_fresh", "Data freshness", "ok" if ok else "breached", detail, **figures)


def _daily_row(picture: AccountPicture, limits: RiskLimits, equity: Decimal, now: datetime) -> dict[str, Any]:
    start, limit = picture.day_start_equity, limits.daily_loss_limit_pct
    if start is None or start <= 0:
        return _row("daily_loss", "Daily loss", "unknown", f"{picture.baseline_problem}: new risk is denied",
                    limit=dec(limit), unit="%")
    loss = daily_loss_pct(equity, start)
    headroom = equity - start * (1 - limit / HUNDRED)
    hit = loss >= limit
    resumes = next_day_start(now, limits.zone())
    left = f"{dec(headroom.quantize(_PCT))} USDT left before the limit"
    detail = f"day opened at {fmt_money(start)} USDT; " + (
        f"limit reached: new risk resumes at {sentence_time(resumes)}" if hit else left
    )
    return _row("daily_loss", "Daily loss", "breached" if hit else "ok", detail, used=dec(loss.quantize(_PCT)),
                limit=dec(limit), unit="%", headroom=dec(headroom.quantize(_PCT)), headroom_unit="USDT",
                fraction=_fraction(loss, limit))


_TIER_STATUS = {DrawdownTier.NONE: "ok", DrawdownTier.WARN: "warn"}


def _drawdown_row(picture: AccountPicture, limits: RiskLimits, equity: Decimal) -> dict[str, Any]:
    peak = picture.peak_equity
    if peak is None or peak <= 0:
        return _row("drawdown", "Drawdown from peak", "unknown", "no peak equity on record: new risk is denied",
                    limit=dec(limits.max_drawdown_pct), unit="%")
    drawdown = drawdown_pct(equity, peak)
    tier, _ = drawdown_tier(limits, drawdown)
    to_reducing = equity - peak * (1 - limits.drawdown_reducing_pct / HUNDRED)
    detail = (
        f"peak {fmt_money(peak)} USDT; tiers: warn {dec(limits.drawdown_warn_pct)} %, REDUCING "
        f"{dec(limits.drawdown_reducing_pct)} %, flatten + HALTED {dec(limits.max_drawdown_pct)} %; tier reached: "
        f"{tier.value}"
    )
    return _row("drawdown", "Drawdown from peak", _TIER_STATUS.get(tier, "breached"), detail,
                used=dec(drawdown.quantize(_PCT)), limit=dec(limits.max_drawdown_pct), unit="%",
                headroom=dec(to_reducing.quantize(_PCT)), headroom_unit="USDT to REDUCING",
                fraction=_fraction(drawdown, limits.max_drawdown_pct))


def _positions_row(count: int, limits: RiskLimits) -> dict[str, Any]:
    cap = limits.max_open_positions
    status = "breached" if count >= cap else "ok"
    detail = f"{count} of {cap} open" + (": no new position (adding to one is allowed)" if count >= cap else "")
    return _row("max_open_positions", "Open positions", status, detail, used=str(count), limit=str(cap),
                headroom=str(max(cap - count, 0)), headroom_unit="positions",
                fraction=_fraction(Decimal(count), Decimal(cap)))


def _leverage_row(snap: Any, limits: RiskLimits, equity: Decimal) -> dict[str, Any]:
    cap = limits.max_leverage
    if equity <= 0:
        return _row("max_leverage", "Account leverage", "unknown", f"equity is {dec(equity)} USDT", limit=str(cap))
    notional = sum((p.notional for p in snap.positions), Decimal(0))
    used = notional / equity
    room = equity * cap - notional
    detail = f"open notional {fmt_money(notional)} USDT on equity {fmt_money(equity)} USDT"
    return _row("max_leverage", "Account leverage", "breached" if used >= cap else "ok", detail,
                used=dec(used.quantize(_PCT)), limit=str(cap), unit="x",
                headroom=dec(max(room, Decimal(0)).quantize(_PCT)), headroom_unit="USDT notional",
                fraction=_fraction(used, Decimal(cap)))


def _streak_row(picture: AccountPicture, limits: RiskLimits, now: datetime) -> dict[str, Any]:
    limit = limits.max_consecutive_losses
    if picture.trades is None:
        return _row("consecutive_losses", "Losing streak", "unknown", f"{picture.trades_problem}: new risk is denied",
                    limit=str(limit))
    streak = 0
    for trade in picture.trades:  # newest first
        if trade.realized_pnl >= 0:
            break
        streak += 1
    figures = {"used": str(streak), "limit": str(limit), "headroom": str(max(limit - streak, 0)),
               "headroom_unit": "losses", "fraction": _fraction(Decimal(streak), Decimal(limit))}
    if streak >= limit:
        until = picture.trades[0].closed_at + timedelta(minutes=limits.loss_cooldown_minutes)
        if now < until:
            return _row("consecutive_losses", "Losing streak", "breached",
                        f"{streak} losing closes in a row: cooling down until {sentence_time(until)}", **figures)
    detail = f"{streak} losing close(s) in a row; the breaker trips at {limit}"
    return _row("consecutive_losses", "Losing streak", "ok", detail, **figures)


def audit_events(
    runtime: Runtime, *, since: datetime | None, until: datetime | None, kind: str | None, account: str | None,
    before: int | None, limit: int,
) -> list[dict[str, Any]]:
    """Return audit events newest first: ``kind`` matches as a prefix; ``before`` is an id cursor for paging."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(AuditEvent.ts >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.ts <= until)
    if kind:
        stmt = stmt.where(AuditEvent.kind.startswith(kind, autoescape=True))
    if account:
        stmt = stmt.where(AuditEvent.account == account)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    with Session(runtime.engine) as session:
        return [
            {"id": e.id, "ts": e.ts.isoformat(), "kind": e.kind, "actor": e.actor, "account": e.account,
             "message": e.message, "data": e.data}
            for e in session.scalars(stmt)
        ]
