"""The pre-trade picture: one order's rule context built from real data, every verdict, and the receipt.

The gateway runs ``PreTrade.verdicts`` on every new-risk order, and ``POST /api/orders/preview`` and the ticket
show ``PreTrade.receipt``: the same context, so the receipt says exactly what the gate will decide. Everything is
read fresh: the latest snapshot (equity; its status and time decide data freshness), the account's day baseline
and peak equity, the limits in force, and from the venue the open positions, closed trades and mark price. A
figure that cannot be read is never replaced by a guess: the rules that need it deny, naming what is missing
(when unsure, deny).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.orm import Session

from riskmgr.core.domain import (
    ZERO,
    AccountSnapshot,
    MarketSpec,
    OrderRequest,
    OrderSide,
    Position,
    PositionSide,
    TradingState,
    Verdict,
)
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.core.labels import rule_label, sentence_time
from riskmgr.persistence.models import AccountState
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import ClosedTrade, OrderIntent, RuleContext, build_context
from riskmgr.risk.costs import TradingCosts, trading_costs
from riskmgr.risk.decision import EntryDecision, decide_entry, rule_verdicts, undecidable
from riskmgr.risk.exposure import PendingEntry, UnpricedOrder, merge, resting_entries
from riskmgr.risk.intent_ledger import IntentLedger
from riskmgr.risk.limits_store import LimitsStore
from riskmgr.risk.rules import ALL_RULES
from riskmgr.risk.sizing import HUNDRED, SizingResult, fmt_number, pct_of
from riskmgr.risk.specs import SpecCache
from riskmgr.risk.state import admits, daily_loss_pct, risk_day

# closed trades read for the losing streak; a streak older than this is not counted
TRADES_LOOKBACK = timedelta(days=30)
_PCT = Decimal("0.0001")
_PRICE = Decimal("1e-8")


@dataclass(frozen=True)
class AccountPicture:
    """What is known about one account now. A None figure is unknown, and ``*_problem`` says why."""

    snapshot: AccountSnapshot | None
    day_start_equity: Decimal | None
    peak_equity: Decimal | None
    baseline_problem: str | None
    trades: tuple[ClosedTrade, ...] | None
    trades_problem: str | None


@dataclass(frozen=True)
class Assessment:
    """One order judged: every rule's verdict (ALL_RULES order) and the context they read (None: not built)."""

    verdicts: tuple[Verdict, ...]
    context: RuleContext | None
    entry_source: str


@dataclass(frozen=True)
class Prepared:
    """One order's reads, made outside the account's gate lock; ``judge`` runs the rules on them inside it.

    ``early`` is set when the order cannot be judged at all (a read failed): every rule then denies.
    ``watermark`` is the account's gate sequence number read before the venue reads.
    """

    account: str
    now: datetime
    limits: RiskLimits
    watermark: int
    entry_source: str
    early: Assessment | None = None
    picture: AccountPicture | None = None
    intent: OrderIntent | None = None
    spec: MarketSpec | None = None
    positions: tuple[Position, ...] = ()
    resting: tuple[PendingEntry, ...] = ()
    unpriced: tuple[UnpricedOrder, ...] = ()
    exposure_price: Decimal | None = None
    costs: TradingCosts | None = None

    def judge(self, in_flight: list[PendingEntry], trading_state: TradingState) -> Assessment:
        """Return every rule's verdict, counting the resting entries and ``in_flight`` as filled (the receipt)."""
        if self.early is not None:
            return self.early
        ctx = self.context(in_flight, trading_state)
        return Assessment(tuple(rule_verdicts(ctx, self._overrides())), ctx, self.entry_source)

    def decide(
        self, in_flight: list[PendingEntry], trading_state: TradingState, *, gates: Sequence[Verdict] = (),
        automatic_entries: int | None = None,
    ) -> EntryDecision:
        """Decide the entry with the execution core (``risk.decision``), as the backtest does: the trading state,
        ``gates``, the automatic-entry cap (``automatic_entries``: the day's count; None for a manual order), then
        every rule, counting the resting entries and ``in_flight`` as filled."""
        if self.early is not None:
            return undecidable(trading_state, self.early.verdicts, limits=self.limits, now=self.now, gates=gates,
                               automatic_entries=automatic_entries)
        ctx = self.context(in_flight, trading_state, automatic_entries)
        return decide_entry(ctx, gates=gates, overrides=self._overrides())

    def context(
        self, in_flight: list[PendingEntry], trading_state: TradingState, automatic_entries: int | None = None
    ) -> RuleContext:
        """Return the rule context of these reads, the resting entries and ``in_flight`` counted as filled."""
        picture, snap = self.picture, self.picture.snapshot if self.picture else None
        if (picture is None or snap is None or snap.balance is None or self.intent is None or self.spec is None
                or self.costs is None):
            raise ValueError("a Prepared without an early answer carries its reads")  # programming error
        return build_context(
            now=self.now, limits=self.limits, intent=self.intent, spec=self.spec, equity=snap.balance.equity,
            available=snap.balance.available,
            # an unknown baseline or peak is passed as 0, which those rules deny; the reason is replaced (overrides)
            day_start_equity=picture.day_start_equity or ZERO, peak_equity=picture.peak_equity or ZERO,
            positions=self.positions, account_status=snap.status, fetched_at=snap.fetched_at,
            recent_trades=picture.trades or (), trading_state=trading_state,
            pending=merge(list(self.resting), in_flight), unpriced=self.unpriced, costs=self.costs,
            automatic_entries=automatic_entries,
        )

    def _overrides(self) -> dict[str, Verdict]:
        return _overrides(self.picture) if self.picture is not None else {}


@dataclass(frozen=True)
class PreTradeSources:
    """What the pre-trade check reads, as the composition root has it before the runtime exists."""

    clock: Any
    limits_store: LimitsStore
    snapshots: Any
    engine: Any
    accounts: Mapping[str, Any]
    trading: Any
    specs: SpecCache

    def limits(self) -> RiskLimits:
        """Return the risk limits in force."""
        return self.limits_store.current()


class PreTrade:
    """Build rule contexts from the runtime's real data; judge orders and describe them before they are sent.

    ``sources`` is anything with the runtime's ``clock``, ``limits()``, ``snapshots``, ``engine``, ``accounts``,
    ``trading`` and ``specs`` (the runtime itself, or the composition root's parts before the runtime exists).
    """

    def __init__(self, sources: Any):
        self._rt = sources
        self._ledger = IntentLedger(sources.engine)

    def verdicts(self, account: str, request: OrderRequest) -> list[Verdict]:
        """Return every rule's verdict on a new-risk order (outside the gate: in-flight intents as of now)."""
        return list(self.assess(account, request).verdicts)

    def assess(self, account: str, request: OrderRequest, *, size: bool = False) -> Assessment:
        """Judge ``request`` (already rounded) on ``account``; with ``size`` its quantity comes from the risk budget."""
        prepared = self.prepare(account, request, size=size)
        in_flight = self._ledger.in_flight(account, prepared.watermark, prepared.now)
        return prepared.judge(in_flight, self._rt.trading.current().state)

    def in_flight(self, account: str, prepared: Prepared) -> list[PendingEntry]:
        """Return the intents in flight that ``prepared``'s venue reads cannot show (read inside the gate lock)."""
        return self._ledger.in_flight(account, prepared.watermark, prepared.now)

    def prepare(self, account: str, request: OrderRequest, *, size: bool = False) -> Prepared:
        """Read everything the rules need for ``request`` on ``account`` (venue reads: outside the gate lock)."""
        limits = self._rt.limits()
        # the snapshots are read before the clock: a poll that lands in between must not stamp the data after
        # "now" (it would read as "from the future" and deny a sound order)
        latest = self._rt.snapshots.latest()
        now = self._rt.clock.now()
        watermark = self._ledger.watermark(account)
        spec = self._rt.specs.spec(account, request.symbol)
        picture = self.picture(account, now, limits, latest)
        snap = picture.snapshot

        def early(rule: str, reason: str, source: str = "—") -> Prepared:
            return Prepared(account, now, limits, watermark, source, early=_unchecked(rule, reason, source))

        if snap is None or snap.balance is None:
            return early("data_fresh", "the account has never been read" if snap is None
                         else f"no account figures: {snap.error}")
        entry, source = self._entry_price(account, request, now, limits)
        if entry is None:
            return early("data_fresh", source)
        positions = self._positions(account)
        if isinstance(positions, str):
            return early("data_fresh", positions, source)
        resting = self._resting(account)
        if isinstance(resting, str):
            return early("data_fresh", resting, source)
        if spec.maintenance_margin_rate is None:
            # Bitget and Bitunix publish it only per symbol (position tiers): read where a rule needs it, never
            # on the protective paths, which only need the tick
            try:
                rate = self._rt.specs.maintenance_margin_rate(account, request.symbol)
            except ExchangeError as exc:
                why = f"the maintenance margin rate of {request.symbol} cannot be read: {exc.describe()}"
                return early("liquidation_beyond_stop", why, source)
            spec = replace(spec, maintenance_margin_rate=rate)
        intent = _intent(request, entry, positions, size, spec.base)
        if isinstance(intent, Verdict):
            return early(intent.rule, intent.reason, source)
        try:
            costs = trading_costs(self._rt.accounts[account], spec, limits)
        except ExchangeError as exc:
            why = f"the taker fee of {request.symbol} cannot be read: {exc.describe()}"
            return early("min_stop_distance", why, source)
        return Prepared(account, now, limits, watermark, source, picture=picture, intent=intent, spec=spec,
                        positions=positions, resting=resting[0], unpriced=resting[1], exposure_price=entry,
                        costs=costs)

    def picture(
        self, account: str, now: datetime, limits: RiskLimits, latest: Mapping[str, AccountSnapshot]
    ) -> AccountPicture:
        """Return the account's snapshot from ``latest`` (read BEFORE ``now`` was taken, so no snapshot is stamped
        after it), and read its day baseline and peak and its recent closed trades."""
        snap = latest.get(account)
        with Session(self._rt.engine) as session:
            row = session.get(AccountState, account)
            day, day_start, peak = (row.day, row.day_start_equity, row.peak_equity) if row else (None, None, None)
        today = risk_day(now, limits.zone()).isoformat()
        problem = None
        if day is None:
            problem = "no good read has set the day's opening equity yet: the day's loss is unknown"
        elif day != today:
            problem = f"the opening equity on record is for {day}; the first good read of {today} sets today's"
            day_start = None
        trades, trades_problem = self._closed_trades(account, now)
        return AccountPicture(snap, day_start, peak, problem, trades, trades_problem)

    def receipt(self, account: str, request: OrderRequest, *, size: bool) -> dict[str, Any]:
        """Describe an order before it is sent: its size, risk, prices, headroom and every verdict."""
        rounded = self._rt.specs.rounded(account, request)
        state = admits(self._rt.trading.current().state, reduces_exposure=rounded.reduce_only, is_cancel=False)
        head = {
            "account": account, "symbol": rounded.symbol, "side": rounded.side.value, "type": rounded.type.value,
            "reduce_only": rounded.reduce_only, "price": dec(rounded.price), "stop_loss": dec(rounded.stop_loss),
            "take_profit": dec(rounded.take_profit), "leverage": rounded.leverage,
        }
        if rounded.reduce_only:
            # the gateway admits a reduce-only order on the trading state alone: the rules guard new risk
            return head | _verdicts_view([state]) | {
                "qty": dec(rounded.qty), "entry_price": None, "entry_source": "reduce-only: new-risk rules skipped",
                "figures": None, "sizing_error": None,
            }
        assessment = self.assess(account, rounded, size=size)
        ctx = assessment.context
        figures = _figures(ctx, ctx.sizing) if ctx is not None and ctx.sizing is not None else None
        return head | _verdicts_view([state, *assessment.verdicts]) | {
            "qty": figures["size"]["qty"] if figures else (None if size else dec(rounded.qty)),
            "entry_price": dec(ctx.intent.entry_price) if ctx else None,
            "entry_source": assessment.entry_source,
            "figures": figures,
            "sizing_error": ctx.sizing_error if ctx is not None else None,
        }

    # -- reads -------------------------------------------------------------------------------------------
    def _entry_price(
        self, account: str, request: OrderRequest, now: datetime, limits: RiskLimits
    ) -> tuple[Decimal | None, str]:
        """Return the entry price and where it came from, or None and why it is unknown."""
        if request.price is not None:
            return request.price, f"limit price {fmt_number(request.price)}"
        try:
            ticker = self._rt.accounts[account].fetch_tickers().get(request.symbol)
        except ExchangeError as exc:
            return None, f"the mark price of {request.symbol} cannot be read: {exc.describe()}"
        if ticker is None:
            return None, f"account {account} reports no mark price for {request.symbol}"
        age = (now - ticker.timestamp).total_seconds()
        if age > limits.stale_after_seconds:
            return None, f"the mark price of {request.symbol} is {age:g} s old, older than the limit " \
                         f"{limits.stale_after_seconds} s"
        return ticker.mark, f"mark {fmt_number(ticker.mark)} at {sentence_time(ticker.timestamp)}"

    def _positions(self, account: str) -> tuple[Position, ...] | str:
        """Return the open positions read now, or why they cannot be read.

        Read live rather than from the snapshot: a position opened since the last poll must count against the
        caps, or two quick entries could pass a limit that either alone respects.
        """
        try:
            return tuple(self._rt.accounts[account].fetch_positions())
        except ExchangeError as exc:
            return f"the open positions cannot be read: {exc.describe()}"

    def _resting(self, account: str) -> tuple[tuple[PendingEntry, ...], tuple[UnpricedOrder, ...]] | str:
        """Return the resting entry orders read now (with the stops the gate sent them with), or why not.

        Read live like the positions: a limit entry placed since the last poll must count against the caps.
        """
        try:
            orders = self._rt.accounts[account].fetch_open_orders()
        except ExchangeError as exc:
            return f"the open orders cannot be read: {exc.describe()}"
        entries, unpriced = resting_entries(orders)
        stops = self._ledger.stops(account, [e.client_id for e in entries if e.client_id])
        entries = [replace(e, stop_loss=stops.get(e.client_id or "")) for e in entries]
        return tuple(entries), tuple(unpriced)

    def _closed_trades(self, account: str, now: datetime) -> tuple[tuple[ClosedTrade, ...] | None, str | None]:
        try:
            trades = self._rt.accounts[account].fetch_closed_trades(now - TRADES_LOOKBACK)
        except ExchangeError as exc:
            return None, f"closed trades cannot be read ({exc.describe()}): the losing streak is unknown"
        return tuple(sorted(trades, key=lambda t: t.closed_at, reverse=True)), None


def _overrides(picture: AccountPicture) -> dict[str, Verdict]:
    """Return denials for the rules whose input is unknown (their own reason would show a placeholder 0)."""
    out: dict[str, Verdict] = {}
    if picture.trades is None:
        out["consecutive_losses"] = Verdict.deny("consecutive_losses", f"{picture.trades_problem}: no new risk")
    if picture.day_start_equity is None:
        out["daily_loss"] = Verdict.deny("daily_loss", f"{picture.baseline_problem}: no new risk")
        out["daily_headroom"] = Verdict.deny("daily_headroom", f"{picture.baseline_problem}: no new risk")
    if picture.peak_equity is None:
        out["drawdown"] = Verdict.deny("drawdown", "no good read has set the peak equity yet: the drawdown is unknown")
    return out


def _intent(
    request: OrderRequest, entry: Decimal, positions: tuple[Position, ...], size: bool, base: str
) -> OrderIntent | Verdict:
    """Return the rules' view of ``request``, or the denial saying why it cannot be judged."""
    side = PositionSide.LONG if request.side is OrderSide.BUY else PositionSide.SHORT
    leverage = request.leverage or _position_leverage(positions, request.symbol, side)
    if leverage is None:
        return Verdict.deny(
            "max_leverage",
            f"no leverage given and no open {request.symbol} {side.value} to take it from: the venue's setting is "
            "unknown; give the leverage",
        )
    if not size and request.qty <= 0:
        return Verdict.deny(
            "risk_per_trade",
            f"quantity {fmt_number(request.qty)} {base} after rounding down to the step is not above 0",
        )
    try:
        return OrderIntent(
            symbol=request.symbol, side=side, entry_price=entry, stop_loss=request.stop_loss,
            take_profit=request.take_profit, qty=None if size else request.qty, leverage=leverage,
            reduce_only=request.reduce_only,
        )
    except ValidationError as exc:
        return Verdict.deny("risk_per_trade", f"{exc.field} {exc.message}")


def _position_leverage(positions: tuple[Position, ...], symbol: str, side: PositionSide) -> int | None:
    for p in positions:
        if p.symbol == symbol and p.side is side:
            return max(1, math.ceil(p.leverage))  # a fractional setting rounds up: liquidation is then nearer
    return None


def _unchecked(rule: str, reason: str, entry_source: str) -> Assessment:
    """Deny with ``rule``'s reason; every other rule denies as not checked (no context could be built)."""
    verdicts = tuple(
        Verdict.deny(r.name, reason if r.name == rule else f"not checked: {reason}") for r in ALL_RULES
    )
    return Assessment(verdicts, None, entry_source)


def _verdicts_view(verdicts: list[Verdict]) -> dict[str, Any]:
    rows = [verdict_dict(v) for v in verdicts]
    denials = [r for r in rows if not r["allowed"]]
    return {"allowed": not denials, "verdicts": rows, "denials": denials}


def verdict_dict(v: Verdict) -> dict[str, Any]:
    """Return a verdict JSON-safe."""
    return {"allowed": v.allowed, "rule": v.rule, "label": rule_label(v.rule), "reason": v.reason,
            "until": v.until.isoformat() if v.until else None}


def _q(value: Decimal | None, step: Decimal) -> str | None:
    return None if value is None else dec(value.quantize(step, rounding=ROUND_HALF_EVEN))


def _figures(ctx: RuleContext, s: SizingResult) -> dict[str, Any]:
    """Return the receipt's numbers for a sized context."""
    limits, spec = ctx.limits, ctx.spec
    existing = ctx.same_position.notional if ctx.same_position is not None else ZERO
    pending_same = ctx.same_exposure - existing
    after_open = ctx.exposure_notional + s.notional
    taken = ctx.slots
    new_position = (ctx.intent.symbol, ctx.intent.side) not in taken
    return {
        "size": {
            "qty": dec(s.qty), "base": spec.base, "sized": s.sized, "raw_qty": _q(s.raw_qty, _PRICE),
            "notional": dec(s.notional), "margin": _q(s.margin, _PRICE),
            "caps": [{"limit": c.name, "max_notional": _q(c.max_notional, _PRICE), "reason": c.reason} for c in s.caps],
        },
        "risk": _risk(ctx, s),
        "leverage": {
            "setting": s.leverage, "limit": limits.max_leverage, "exchange_max": spec.max_leverage,
            "account_after": _q(after_open / ctx.equity, _PCT) if ctx.equity > 0 else None,
            "notional_after": dec(after_open), "notional_cap": dec(ctx.equity * limits.max_leverage),
            "pending_notional": dec(ctx.pending_notional),
        },
        "liquidation": {
            "price": _q(s.liquidation_price, _PRICE), "stop_loss": dec(s.stop_loss),
            "beyond_stop": _q(s.liquidation_beyond_stop, _PRICE),
            "beyond_stop_pct_of_entry": _q(pct_of(s.liquidation_beyond_stop, s.entry_price), _PCT),
            "maintenance_margin_rate": dec(spec.maintenance_margin_rate),
        },
        "daily_loss": _daily_loss(ctx, s.risk_usdt),
        "open_positions": {
            "count": len(ctx.positions), "pending": len(taken) - len({(p.symbol, p.side) for p in ctx.positions}),
            "split": ctx.exposure_split(), "limit": limits.max_open_positions, "new_position": new_position,
            "after": len(taken) + (1 if new_position else 0),
        },
        "notional": {
            "existing": dec(existing), "pending": dec(pending_same), "new": dec(s.notional),
            "after": dec(existing + pending_same + s.notional), "limit": dec(limits.max_position_notional),
        },
        "reward_risk": {
            "ratio": _q(s.reward_risk, _PCT), "min": dec(limits.min_reward_risk), "take_profit": dec(s.take_profit),
        },
    }


def _risk(ctx: RuleContext, s: SizingResult) -> dict[str, Any]:
    """Return the loss if stopped, fees and slippage included, with its split and where the costs came from."""
    return {
        "usdt": _q(s.risk_usdt, _PRICE), "pct_of_equity": _q(s.risk_pct, _PCT),
        "limit_pct": dec(ctx.limits.risk_per_trade_pct),
        "budget_usdt": _q(s.risk_budget, _PRICE), "equity": dec(ctx.equity), "stop_distance": dec(s.stop_distance),
        "label": "risk if stopped, incl. fees and slippage",
        "split": {"price_move": _q(s.price_risk_usdt, _PRICE), "fees": _q(s.fees_usdt, _PRICE),
                  "slippage": _q(s.slippage_usdt, _PRICE)},
        "round_trip_per_unit": _q(s.round_trip_per_unit, _PRICE),
        "costs": ctx.costs.as_dict() if ctx.costs is not None else None,
        "existing_qty": dec(s.existing_qty), "existing_usdt": _q(s.existing_risk_usdt, _PRICE),
        "min_stop_distance": _q(ctx.limits.min_stop_cost_multiple * s.round_trip_per_unit, _PRICE),
    }


def _daily_loss(ctx: RuleContext, risk: Decimal) -> dict[str, Any] | None:
    """Return the day's loss against the limit and what is left before it, or None when the baseline is unknown."""
    if ctx.day_start_equity <= 0:
        return None
    limit = ctx.limits.daily_loss_limit_pct
    floor = ctx.day_start_equity * (1 - limit / HUNDRED)  # equity at which the limit is reached
    headroom = ctx.equity - floor
    return {
        "day_start_equity": dec(ctx.day_start_equity), "equity": dec(ctx.equity),
        "loss_pct": _q(daily_loss_pct(ctx.equity, ctx.day_start_equity), _PCT), "limit_pct": dec(limit),
        "headroom_usdt": _q(headroom, _PRICE), "headroom_after_stop_usdt": _q(headroom - risk, _PRICE),
    }
