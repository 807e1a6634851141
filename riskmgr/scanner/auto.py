"""Auto-trading: act on actionable signals through the order gateway, and learn how each trade ended.

Who trades: paper accounts when AUTO_TRADE_PAPER is on (default), live accounts only when AUTO_TRADE_LIVE is on
(default off); AUTO_TRADE_ACCOUNTS, when given, narrows that to the accounts listed. An account only acts on
signals computed from the market it trades on (a paper account on the simulated market; a live account on its
own exchange's data), since a stop computed on other prices means nothing there.

Each decision, once per signal and account: the daily cap (RiskLimits.auto_trade_daily_cap automatic entries per
risk day, counted from the gate's own records of the entries it let through, and counted again by the gate inside
the account's lock, so two auto-traders cannot both pass it), a real balance from the latest snapshot, the current
price still between the signal's stop and target, stop and target re-centred on the current mark at the signal's
distances (recorded in the decision), the size from ``risk.sizing.size_position`` (risk per trade over the loss at
the stop incl. costs, capped), then ``gateway.submit`` with the stop-loss and take-profit, so trading state, every
risk rule, rounding and exchange-side protection apply exactly as to a manual order. Every decision — taken, denied
(with the gateway's verdicts), rejected by the exchange, or skipped and why — is audited.

Outcomes: once a taken trade's position is gone, its closed P&L comes from the paper fills, or from the live
venue's closed trades on the same symbol (and side, where the venue reports it) between the entry and the next
entry on that symbol. A close the venue has not listed yet is waited for LIVE_CLOSE_GRACE before the outcome is
recorded as unknown, with the reason; a venue that cannot report closed trades is recorded as unknown at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr.controls.service import auto_trading_override
from riskmgr.core.domain import ZERO, AccountStatus, OrderRequest, OrderType, PositionSide
from riskmgr.core.errors import ExchangeError, NotSupportedError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.core.labels import rule_label
from riskmgr.exchanges.paper.models import PaperAccount, PaperFill
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import ClosedTrade
from riskmgr.risk.costs import trading_costs
from riskmgr.risk.gateway import GatewayResult, OrderGateway
from riskmgr.risk.recentre import recentre
from riskmgr.risk.rules import auto_trade_daily_cap
from riskmgr.risk.sizing import SizingInput, size_position
from riskmgr.scanner.history import OpenTrade, Outcome, Recorded, SignalHistory, day_start
from riskmgr.signals.conservative import Signal
from riskmgr.signals.quality import Quality

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "auto-trader"
PURPOSE = "signal"  # the gate's purpose of an automatic entry: what the daily cap counts
LIVE_CLOSE_GRACE = timedelta(minutes=5)
NO_CLOSE = "the position is gone but no closing trade was found after the entry"
Resolved = tuple[str, Decimal | None, datetime | None, str]  # outcome, closed P&L, closed at, note


@dataclass(frozen=True)
class AccountPolicy:
    """Whether auto-trading acts for one account, and why (or why not)."""

    account: str
    mode: str
    market: str  # the market whose prices the account trades at
    enabled: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "mode": self.mode, "market": self.market, "enabled": self.enabled,
                "reason": self.reason}


def policies(runtime: Runtime, settings: Any,
             overrides: Mapping[str, tuple[bool, str] | None] | None = None) -> list[AccountPolicy]:
    """Return the auto-trading policy of every account (``overrides``: the per-account switches, already read)."""
    out: list[AccountPolicy] = []
    for name, reader in runtime.accounts.items():
        paper = reader.mode == "paper"
        market = runtime.market.source if paper else (reader.exchange if reader.mode == "live"
                                                      else f"{reader.exchange} ({reader.mode})")
        if settings.auto_trade_accounts and name not in settings.auto_trade_accounts:
            enabled, reason = False, "not listed in AUTO_TRADE_ACCOUNTS"
        elif paper and not settings.auto_trade_paper:
            enabled, reason = False, "off for paper accounts (AUTO_TRADE_PAPER=false)"
        elif not paper and not settings.auto_trade_live:
            enabled, reason = False, "off for live accounts (AUTO_TRADE_LIVE=false)"
        elif market != settings.source:
            enabled, reason = False, f"signals come from {settings.source} prices; this account trades on {market}"
        else:
            enabled, reason = True, "on"
        # the operator's per-account switch overrides the config
        switch = overrides.get(name) if overrides is not None else auto_trading_override(runtime, name)
        if switch is not None and (not switch[0] or market == settings.source):
            enabled, reason = switch
        out.append(AccountPolicy(name, reader.mode, market, enabled, reason))
    return out


class AutoTrader:
    """Decide, once per signal and account, whether to enter; send entries through the gateway."""

    def __init__(self, runtime: Runtime, history: SignalHistory, settings: Any):
        self._runtime = runtime
        self._history = history
        self._settings = settings
        self._missing_since: dict[int, datetime] = {}  # decision id -> when its close was first looked for in vain

    def policies(self) -> list[AccountPolicy]:
        return policies(self._runtime, self._settings)

    def trade(self, items: list[tuple[Signal, Recorded, Quality]], limits: RiskLimits, now: datetime) -> int:
        """Decide every active signal (best ranked first) for every enabled account; return entries taken."""
        taken = 0
        enabled = [p for p in self.policies() if p.enabled]
        for signal, record, quality in items:
            if record.status != "active":
                continue
            for policy in enabled:
                if not self._history.claim(record.id, policy.account):
                    continue  # decided before (or right now, by another process)
                outcome = self._decide_recorded(policy, signal, record, limits, now)
                self._announce(policy.account, signal, record, quality, outcome)
                taken += outcome.result == "taken"
        return taken

    def _decide_recorded(self, policy: AccountPolicy, signal: Signal, record: Recorded, limits: RiskLimits,
                         now: datetime) -> Outcome:
        try:
            outcome = self._decide(policy, signal, record, limits, now)
        except (ValidationError, ExchangeError) as exc:
            text = exc.describe() if isinstance(exc, ExchangeError) else str(exc)
            outcome = Outcome("skipped", f"could not prepare the order: {text}")
        except Exception as exc:
            # the claim must not stay "pending" for ever; record the fault, then let the job log it
            self._history.finish(record.id, policy.account,
                                 Outcome("skipped", f"internal error: {type(exc).__name__}: {exc}"))
            raise
        self._history.finish(record.id, policy.account, outcome)
        return outcome

    def _decide(self, policy: AccountPolicy, signal: Signal, record: Recorded, limits: RiskLimits,
                now: datetime) -> Outcome:
        account = policy.account
        counter = entry_counter(self._runtime.gateway, account, limits, now)
        taken = counter()
        if not auto_trade_daily_cap.judge(taken, limits, now).allowed:  # before any venue read; the gate judges again
            return Outcome("skipped", f"daily cap reached: {taken} of {limits.auto_trade_daily_cap} automatic "
                                      f"entries this risk day ({limits.risk_day_timezone})")
        snap = self._runtime.snapshots.latest().get(account)
        if snap is None or snap.balance is None:
            return Outcome("skipped", "no balance has been read from the account yet")
        if snap.status is not AccountStatus.OK:
            since = snap.fetched_at.isoformat() if snap.fetched_at else "never"
            return Outcome("skipped", f"account data stale since {since} — {snap.error}")
        spec = self._runtime.gateway.spec(account, signal.symbol)
        if spec.maintenance_margin_rate is None:  # Bitget, Bitunix: published per symbol, read once by the adapter
            rate = self._runtime.gateway.maintenance_margin_rate(account, signal.symbol)
            spec = replace(spec, maintenance_margin_rate=rate)
        price = self._price(policy, signal.symbol)
        moved = _moved_past(signal, price)
        if moved:
            return Outcome("skipped", moved)
        # the order is judged and filled at the mark, not the signal's bar close: keep the signal's distances
        levels = recentre(signal.side, signal.entry, signal.stop, signal.target, price, spec.price_tick)
        leverage = min(limits.max_leverage, spec.max_leverage)
        same = tuple(p for p in snap.positions if p.symbol == signal.symbol and p.side is signal.side)
        sizing = size_position(SizingInput(
            side=signal.side, entry_price=price, stop_loss=levels.stop, take_profit=levels.target, leverage=leverage,
            equity=snap.balance.equity, costs=trading_costs(self._runtime.accounts[account], spec, limits),
            open_notional=sum((p.notional for p in snap.positions), ZERO),
            position_notional=sum((p.notional for p in same), ZERO), existing=same,
        ), spec, limits)
        if sizing.qty <= 0:
            return Outcome("skipped", f"the risk budget {dec(sizing.risk_budget)} USDT sizes less than one step "
                                      f"({dec(spec.qty_step)} {spec.base}) of {signal.symbol} "
                                      f"({levels.describe()})")
        request = OrderRequest(signal.symbol, signal.side.entry_order_side, OrderType.MARKET, sizing.qty,
                               leverage=leverage, stop_loss=levels.stop, take_profit=levels.target)
        gateway = self._runtime.gateway
        # the count is read again inside the gate lock: another auto-trader may have entered since ``taken``
        result = gateway.submit(account, request, actor=ACTOR, intent_id=f"signal:{record.key}", purpose=PURPOSE,
                                automatic_entries=counter)
        outcome = _from_result(result, sizing.qty, gateway.rounded(account, request))
        return replace(outcome, reason=f"{outcome.reason} ({levels.describe()})")

    def _price(self, policy: AccountPolicy, symbol: str) -> Decimal:
        """Return the mark price the account would trade at now."""
        if policy.mode == "paper":
            return self._runtime.market.ticker(symbol).mark
        ticker = self._runtime.accounts[policy.account].fetch_tickers().get(symbol)
        if ticker is None:
            raise ValidationError("symbol", f"{policy.account} reports no price for {symbol}")
        return ticker.mark

    def _announce(self, account: str, signal: Signal, record: Recorded, quality: Quality, outcome: Outcome) -> None:
        what = f"{signal.side.value} {signal.symbol} signal (confidence {signal.confidence}, quality {quality.score})"
        self._runtime.audit.record(
            f"signal.{outcome.result}", ACTOR, f"{outcome.result} {what}: {outcome.reason}", account=account,
            data={"signal": record.key, "symbol": signal.symbol, "side": signal.side.value,
                  "entry": dec(signal.entry), "stop": dec(signal.stop), "target": dec(signal.target),
                  "qty": dec(outcome.qty), "order_id": outcome.order_id, "verdicts": outcome.verdicts or []},
        )
        if outcome.result == "taken":
            self._runtime.events.emit(
                "signal.executed", f"auto-trading entered {what} on {account}: {outcome.reason}", account=account,
                data={"signal": record.key, "symbol": signal.symbol, "side": signal.side.value,
                      "qty": dec(outcome.qty), "order_id": outcome.order_id},
            )

    # -- outcomes ------------------------------------------------------------------------------------
    def resolve_outcomes(self) -> int:
        """Record the closed P&L of taken trades whose position is gone; return how many were resolved."""
        snaps = self._runtime.snapshots.latest()
        resolved = 0
        for trade in self._history.open_trades():
            snap = snaps.get(trade.account)
            if (snap is None or snap.status is not AccountStatus.OK or snap.fetched_at is None  # not fresh
                    or snap.fetched_at <= trade.taken_at or any(p.symbol == trade.symbol for p in snap.positions)):
                continue  # still open, or not known to be closed yet
            try:
                found = self._closed_pnl(trade)
            except ExchangeError as exc:
                log.warning("outcome of %s on %s not read yet: %s", trade.symbol, trade.account, exc.describe())
                continue
            if found is None:
                continue  # the venue has not reported the close yet
            self._history.set_outcome(trade.decision_id, *found)
            resolved += 1
        return resolved

    def _closed_pnl(self, trade: OpenTrade) -> Resolved | None:
        reader = self._runtime.accounts.get(trade.account)
        if reader is None:
            return "unknown", None, None, f"account {trade.account} is no longer configured"
        if reader.mode != "paper":
            return self._live_closed_pnl(reader, trade)
        pnl, at = paper_closed_pnl(self._runtime.engine, trade.account, trade.symbol, trade.taken_at, trade.until)
        if pnl is None:
            return "unknown", None, None, NO_CLOSE
        return _result(pnl), pnl, at, "closed P&L after fees"

    def _live_closed_pnl(self, reader: Any, trade: OpenTrade) -> Resolved | None:
        """Resolve from the venue's closed trades; None while a missing close may still be on its way."""
        try:
            reported = reader.fetch_closed_trades(trade.taken_at)
        except NotSupportedError as exc:
            return "unknown", None, None, f"closed trades cannot be read from {reader.exchange}: {exc}"
        mine = closes_of(trade, reported)
        if mine:
            self._missing_since.pop(trade.decision_id, None)
            pnl = sum((t.realized_pnl for t in mine), ZERO)
            note = f"realized P&L reported by {reader.exchange} ({len(mine)} close{'s' if len(mine) > 1 else ''})"
            return _result(pnl), pnl, max(t.closed_at for t in mine), note
        # a venue's close history can lag its position list; give it a moment before calling the outcome unknown
        now = self._runtime.clock.now()
        if now - self._missing_since.setdefault(trade.decision_id, now) < LIVE_CLOSE_GRACE:
            return None
        self._missing_since.pop(trade.decision_id, None)
        nameless = sum(1 for t in reported if t.symbol is None and _within(t, trade))
        if nameless:
            note = f"{NO_CLOSE}; {reader.exchange} reported {nameless} close(s) on contracts outside its markets"
            return "unknown", None, None, note
        return "unknown", None, None, NO_CLOSE


def entry_counter(gateway: OrderGateway, account: str, limits: RiskLimits, now: datetime) -> Callable[[], int]:
    """Return the count of ``account``'s automatic entries this risk day as the gate recorded them (whichever process
    sent them); the gateway calls it inside the account's gate lock."""
    since = day_start(now, limits.zone())
    return lambda: gateway.entries_since(account, purpose=PURPOSE, since=since)


def closes_of(trade: OpenTrade, reported: list[ClosedTrade]) -> list[ClosedTrade]:
    """Return the reported closes of ``trade``: same symbol, same side where the venue says it, in its window."""
    return [t for t in reported
            if t.symbol == trade.symbol and (t.side is None or t.side is trade.side) and _within(t, trade)]


def _within(closed: ClosedTrade, trade: OpenTrade) -> bool:
    """Return True when a close falls after the entry and before the next entry on the symbol."""
    return closed.closed_at >= trade.taken_at and (trade.until is None or closed.closed_at < trade.until)


def _result(pnl: Decimal) -> str:
    return "win" if pnl > 0 else "loss" if pnl < 0 else "flat"


def paper_closed_pnl(engine: Any, account: str, symbol: str, since: datetime, until: datetime | None
                     ) -> tuple[Decimal | None, datetime | None]:
    """Return the net P&L of a paper account's closing fills on ``symbol`` in [since, until), and the last fill."""
    stmt = (select(func.sum(PaperFill.net_pnl), func.max(PaperFill.ts))
            .join(PaperAccount, PaperFill.account_id == PaperAccount.id)
            .where(PaperAccount.name == account, PaperFill.symbol == symbol, PaperFill.closes.is_(True),
                   PaperFill.ts >= since))
    if until is not None:
        stmt = stmt.where(PaperFill.ts < until)
    with Session(engine) as session:
        total, last = session.execute(stmt).one()
    return (None, None) if last is None or total is None else (Decimal(total), last)


def _moved_past(signal: Signal, price: Decimal) -> str | None:
    """Return why the entry is no longer sensible at ``price`` (beyond the stop or the target), or None."""
    long = signal.side is PositionSide.LONG
    if (price <= signal.stop) if long else (price >= signal.stop):
        return f"price {dec(price)} is already past the stop {dec(signal.stop)}"
    if (price >= signal.target) if long else (price <= signal.target):
        return f"price {dec(price)} is already past the target {dec(signal.target)}"
    return None


def _from_result(result: GatewayResult, qty: Decimal, sent: OrderRequest) -> Outcome:
    """Describe what the gateway did with an entry (``sent``: the request as rounded for the exchange)."""
    verdicts = [{"allowed": v.allowed, "rule": v.rule, "reason": v.reason} for v in result.verdicts]
    if result.accepted:
        order_id = result.order.id if result.order is not None else None
        reason = f"order {order_id} accepted" if order_id else f"already placed earlier ({result.message})"
        if result.unwind is not None:
            reason += f"; the stop could not be placed ({result.protection.message if result.protection else '?'}), "
            reason += "so the position was closed at once"
        elif result.protection is not None and result.protection.accepted:
            reason += f", stop-loss {dec(sent.stop_loss)} and take-profit {dec(sent.take_profit)} on the exchange"
        return Outcome("taken", reason, order_id, result.client_id, qty, verdicts)
    if result.denials:
        reason = "; ".join(f"{rule_label(v.rule)}: {v.reason}" for v in result.denials)
        return Outcome("denied", reason, None, result.client_id, qty, verdicts)
    return Outcome("rejected", result.message or "the exchange refused the order", None, result.client_id, qty,
                   verdicts)
