"""The simulated account of a backtest: one symbol, isolated margin, each bar processed exactly in Decimal.

``polling.step(account, j)`` is everything that happens in bar ``j`` (funding, the pending entry at the open,
the stop / target / liquidation inside the bar, then the risk engine's poll at the close); ``decisions.decide``
is the entry decision at the close. The event-driven engine calls them only at bars where something can
happen; the plain bar-by-bar loop of the tests calls them at every bar, and both must agree exactly.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np

from riskmgr.backtest.fastfill import FillPlan
from riskmgr.backtest.outcome import AccountEvent, Outcome, RuleCount, TradeTable
from riskmgr.core.clock import from_ms
from riskmgr.core.domain import ZERO, MarketSpec, PositionSide, TradingState
from riskmgr.exchanges import fills as fm
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import ClosedTrade
from riskmgr.risk.sizing import known_maintenance_rate
from riskmgr.risk.state import TradingStatus

LONG = PositionSide.LONG  # a module constant: no look-up on the enum class per use
RECENT_TRADES = 64  # closes remembered for the loss-streak rule; a longer streak is still a streak of this many
# a backtest records a ClosedTrade per close; its frozen __init__ sets each of ten fields through
# object.__setattr__, so ``closed_trade`` fills the instance dictionary at once (only while it is that plain)
_CLOSED_DEFAULTS = {f.name: f.default for f in fields(ClosedTrade)}
_CLOSED_PLAIN = (not hasattr(ClosedTrade, "__post_init__") and not hasattr(ClosedTrade, "__slots__")
                 and all(f.default is not MISSING for f in fields(ClosedTrade)[2:]))


def closed_trade(closed_at: datetime, realized_pnl: Decimal) -> ClosedTrade:
    """Return ``ClosedTrade(closed_at, realized_pnl)``, the same instance built without the per-field setattr."""
    if not _CLOSED_PLAIN:
        return ClosedTrade(closed_at, realized_pnl)
    trade = object.__new__(ClosedTrade)
    values = trade.__dict__
    values.update(_CLOSED_DEFAULTS)  # every field in order (closed_at and realized_pnl as placeholders), then those two
    values["closed_at"] = closed_at
    values["realized_pnl"] = realized_pnl
    return trade


def time_at(acct: SimAccount, ms: int) -> datetime:
    """``from_ms(ms)``, remembered for the last ``ms`` asked (a close and the decision at the same bar's close
    ask for the same instant)."""
    if ms == acct.clock_ms:
        return acct.clock_at
    at = acct.clock_at = datetime.fromtimestamp(ms / 1000, UTC)  # from_ms, without its Python-level call
    acct.clock_ms = ms
    return at


def price_of(value: float) -> Decimal:
    """Return a float price as the Decimal of its shortest repr (no binary noise digits)."""
    return Decimal(repr(float(value)))


@dataclass(frozen=True)
class EngineConfig:
    """The account and execution settings of a run (validated upstream by ``BacktestParams``)."""

    symbol: str
    timeframe: str
    limits: RiskLimits
    fill: fm.FillModel
    capital: Decimal
    leverage: int
    funding_rate: Decimal = ZERO  # fraction of notional per 8 h funding instant; longs pay when positive
    limit_entries: bool = False  # False: market entries at the next open; True: a limit at the signal's close
    validity_bars: int = 1  # bars a limit entry rests before it is cancelled
    rearm_next_day: bool = False  # simulate an operator who re-arms at the start of the next risk day


@dataclass(frozen=True)
class Series:
    """The replayed bars as float64 columns; ``day`` is each bar's risk-day number at its close."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    bar_ms: int
    day: np.ndarray
    funding: np.ndarray | None = None  # funding instants falling at each bar's open (None: no funding)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def close_ms(self, j: int) -> int:
        return int(self.ts.item(j)) + self.bar_ms

    def day_start_bar(self, day: int) -> int:
        """Return the first bar whose risk day is ``day`` or later (``len(self)``: none), remembered per day."""
        found = self._day_starts.get(day)
        if found is None:
            found = self._day_starts[day] = int(self.day.searchsorted(day, side="left"))
        return found

    @cached_property
    def _day_starts(self) -> dict[int, int]:
        return {}

    def bar(self, j: int) -> fm.Bar:
        return fm.Bar(
            from_ms(int(self.ts[j])), price_of(self.open[j]), price_of(self.high[j]), price_of(self.low[j]),
            price_of(self.close[j]),
        )


@dataclass(slots=True)  # built once per trade and read at every event: slots make both cheaper
class Holding:
    """The open position."""

    side: PositionSide
    qty: Decimal
    opened_qty: Decimal
    entry: Decimal
    entry_bar: int
    entry_ms: int
    stop: Decimal | None
    target: Decimal | None
    liquidation: Decimal | None
    margin: Decimal
    leverage: int
    entry_fee: Decimal
    target_from: int  # first bar in which the target may fill (a limit filled mid-bar: from the next bar)
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    realized: Decimal = ZERO
    exit_value: Decimal = ZERO
    partial_done: bool = False
    alerted: bool = False
    # the event-driven engine's float image of (stop or liquidation, whichever is met first; target), set there
    float_levels: tuple[float, float] | None = field(default=None, compare=False, repr=False)
    # the event search's widened float levels, kept with the (alerted, partial_done) they were computed for
    scan_levels: tuple[tuple[bool, bool], tuple[float, ...]] | None = field(default=None, compare=False, repr=False)
    # the floats of (stop, liquidation, target) for the exact float-first exit search (inf: not there)
    exit_floats: tuple[float, float, float] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)  # not frozen: a frozen init sets each field through object.__setattr__; nothing mutates it
class PendingEntry:
    """An entry decided at a bar's close, to fill from the next bar on."""

    side: PositionSide
    qty: Decimal
    stop: Decimal
    target: Decimal | None
    limit: Decimal | None  # None: a market order at the next open
    expires_bar: int


@dataclass(frozen=True)
class Block:
    """Account-level gates that turned a signal down and stay shut until ``until_ms`` (None: until a re-arm)."""

    until_ms: int | None
    end_bar: int
    rules: tuple[str, ...]


class SimAccount:
    """Wallet, position, trading state and the risk engine's memory of one backtest."""

    def __init__(self, series: Series, spec: MarketSpec, cfg: EngineConfig, first_bar: int):
        self.s, self.spec, self.cfg, self.limits = series, spec, cfg, cfg.limits
        self.mmr = known_maintenance_rate(spec)  # liquidations need the real rate: refuse to start without it
        self.first_bar = first_bar
        self.wallet = self.peak = self.day_start = cfg.capital
        self.day: int | None = None
        self.status = TradingStatus(TradingState.ACTIVE, "start of the backtest", from_ms(int(series.ts[first_bar])),
                                    "backtest")
        self.holding: Holding | None = None
        self.pending: PendingEntry | None = None
        self.recent: list[ClosedTrade] = []
        self.last_taken: datetime | None = None
        self.entries_day: int | None = None
        self.entries_today = 0
        self.daily_hit_day: int | None = None
        self.halted_day: int | None = None
        self.block: Block | None = None
        self.bust = False
        self.denials: dict[str, RuleCount] = {}
        self.events: list[AccountEvent] = []
        self.funding_total = ZERO
        self.signals = 0
        self.exposure_bars = 0
        self.curve = np.full(len(series), float(cfg.capital))
        self.tier_key: tuple[object, ...] | None = None
        # the (equity, day_start, peak) objects fastpoll last found the tiers quiet at (the decision's same gates)
        self.quiet_figures: tuple[Decimal, Decimal, Decimal] | None = None
        self.fill_plan = FillPlan.of(cfg.fill.slippage_bps, spec.price_tick)  # the fast step's fill constants
        self.funded_bar = -1  # a bar whose funding the event-driven engine paid ahead of the rest of its step
        self.clock_ms = int(series.ts[first_bar])  # the last instant ``time_at`` built, and its datetime
        self.clock_at = self.status.changed_at
        self.trades = t = TradeTable()
        # the table's columns in ``_finish``'s order, taken once: a close appends to each without looking it up
        self.columns: tuple[list[Any], ...] = (
            t.entry_bar, t.exit_bar, t.entry_ms, t.exit_ms, t.side, t.qty, t.entry_price, t.exit_price, t.gross_pnl,
            t.fees, t.funding, t.net_pnl, t.reason, t.stop, t.target,
        )

    # -- figures ---------------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """Tell whether the account is flat with no entry pending (so a signal is decided)."""
        return self.holding is None and self.pending is None and not self.bust

    def held(self) -> Holding:
        """Return the open position (a caller that asks without one has a bug)."""
        if self.holding is None:
            raise RuntimeError("no open position")
        return self.holding

    def equity(self, mark: Decimal) -> Decimal:
        """Return wallet plus the open position's unrealized P&L at ``mark``."""
        h = self.holding
        if h is None:
            return self.wallet
        return self.wallet + (mark - h.entry) * h.qty * (1 if h.side is LONG else -1)  # fills.pnl

    def mark_range(self, a: int, b: int) -> None:
        """Write the equity at the closes of bars a..b-1, the account unchanged over them."""
        h = self.holding
        if h is None:
            self.curve[a:b] = float(self.wallet)
        else:
            self.curve[a:b] = float(self.wallet) + h.side.sign * float(h.qty) * (self.s.close[a:b] - float(h.entry))

    def catch_up(self, a: int, b: int) -> None:
        """Account for quiet bars a..b-1: only the peak equity can move, at the most favourable close."""
        h = self.holding
        if h is None or b <= a:
            return
        closes = self.s.close[a:b]
        k = int(np.argmax(closes) if h.side is LONG else np.argmin(closes))
        self.peak = max(self.peak, self.equity(price_of(closes[k])))

    # -- records ---------------------------------------------------------------------------------------
    def deny(self, rule: str, reason: str, ms: int, count: int = 1) -> None:
        """Count ``count`` signals turned down by ``rule`` (the first reason is kept)."""
        found = self.denials.get(rule)
        if found is None:
            self.denials[rule] = RuleCount(count, reason, ms)
        else:
            found.count += count

    def event(self, ms: int, kind: str, message: str) -> None:
        """Record something the risk engine did or saw."""
        self.events.append(AccountEvent(ms, kind, message))

    # -- one bar ---------------------------------------------------------------------------------------
    def bar_start(self, j: int) -> None:
        """Process bar ``j`` up to its close: funding at the open, the pending entry, exits inside the bar."""
        if self.holding is not None and self.s.funding is not None and self.s.funding[j]:
            self._pay_funding(j)
        bar = self.s.bar(j) if self.pending is not None or self.holding is not None else None
        if self.pending is not None and bar is not None:
            self._fill_pending(j, bar)
        if self.holding is not None and bar is not None:
            self._exits(j, bar)

    def _pay_funding(self, j: int) -> None:
        h = self.held()
        s = self.s
        instants = int(s.funding.item(j))  # type: ignore[union-attr]  # callers pay funding only where it is set
        # fills.funding_payment(h.side, h.qty, open, rate), the same operations without its Python-level call
        delta = -(h.qty * price_of(s.open.item(j)) * self.cfg.funding_rate) * (1 if h.side is LONG else -1) * instants
        self.wallet += delta
        h.funding += delta
        self.funding_total += delta

    def _fill_pending(self, j: int, bar: fm.Bar) -> None:
        p = self.pending
        if p is None:
            return
        order_side = p.side.entry_order_side
        if p.limit is None:
            price = fm.slipped_price(bar.open, order_side, self.cfg.fill.slippage_bps, self.spec.price_tick)
            rate, target_from = self.cfg.fill.taker_fee, j
        else:
            filled = fm.resting_limit_fill_price(order_side, p.limit, bar)
            if filled is None:
                if j >= p.expires_bar:
                    self.pending = None
                    self.event(self.s.close_ms(j), "entry_expired", f"limit entry at {p.limit} expired unfilled")
                return
            # a limit filled inside the bar may have come after the bar's high (or low): no target in that bar
            price, rate, target_from = filled, self.cfg.fill.maker_fee, j if filled == bar.open else j + 1
        self.pending = None
        self._open(j, p, price, fm.fee_for(price, p.qty, rate), target_from)

    @cached_property
    def _margin_terms(self) -> tuple[Decimal, Decimal, Decimal] | None:
        """The leverage as a Decimal and the liquidation factors of a long and a short, as ``fills`` computes them
        (None for a leverage they reject: they raise at the fill)."""
        leverage = self.cfg.leverage
        if not leverage > 0:
            return None
        inverse = fm.ONE / Decimal(leverage)
        return Decimal(leverage), fm.ONE - inverse + self.mmr, fm.ONE + inverse - self.mmr

    def _open(self, j: int, p: PendingEntry, price: Decimal, fee: Decimal, target_from: int) -> None:
        leverage, terms = self.cfg.leverage, self._margin_terms
        margin = fm.initial_margin(price, p.qty, leverage) if terms is None else price * p.qty / terms[0]
        ms = int(self.s.ts.item(j))
        if margin + fee > self.wallet:
            self.deny("insufficient_margin", f"margin {margin:.2f} + fee {fee:.2f} USDT exceeds the wallet "
                      f"{self.wallet:.2f} USDT", ms)
            return
        self.wallet -= fee
        if terms is None:
            liquidation = fm.isolated_liquidation_price(p.side, price, leverage, self.mmr)
        else:  # fills.isolated_liquidation_price: the entry times its side's factor
            liquidation = price * (terms[1] if p.side is LONG else terms[2])
        # by position (a keyword call costs more than twice as much): side, qty, opened_qty, entry, entry_bar,
        # entry_ms, stop, target, liquidation, margin, leverage, entry_fee, target_from, fees
        self.holding = Holding(p.side, p.qty, p.qty, price, j, ms, p.stop, p.target,
                               liquidation if liquidation > 0 else None, margin, leverage, fee, target_from, fee)

    def _exits(self, j: int, bar: fm.Bar) -> None:
        h = self.held()
        ms = int(self.s.ts[j])
        target = h.target if j >= h.target_from else None
        found = fm.position_exit(h.side, bar, stop=h.stop, liquidation=h.liquidation, take_profit=target)
        if found is None:
            return
        if found.kind is fm.ExitKind.LIQUIDATION:
            self._liquidate(j, found.price, ms)
        else:
            self.close(j, h.qty, self._exit_price(found, h), found.kind.value, ms)

    def _exit_price(self, found: fm.Exit, h: Holding) -> Decimal:
        return fm.exit_fill_price(found, h.side, self.cfg.fill.slippage_bps, self.spec.price_tick)

    # -- closing ---------------------------------------------------------------------------------------
    def market_close(self, j: int, qty: Decimal, reason: str) -> None:
        """Close ``qty`` at bar ``j``'s close with a reduce-only market order (slippage and taker fee)."""
        h = self.held()
        price = fm.slipped_price(price_of(self.s.close[j]), h.side.close_order_side, self.cfg.fill.slippage_bps,
                                 self.spec.price_tick)
        self.close(j, qty, price, reason, self.s.close_ms(j))

    def close(self, j: int, qty: Decimal, price: Decimal, reason: str, ms: int,
              fee: Decimal | None = None, gross: Decimal | None = None) -> None:
        """Close ``qty`` of the position at ``price`` (taker fee unless given) and book the result."""
        h = self.holding
        if h is None:
            raise RuntimeError("no open position")  # as ``held``
        if gross is None:  # fills.pnl
            gross = (price - h.entry) * qty * (1 if h.side is LONG else -1)
        fee = price * qty * self.cfg.fill.taker_fee if fee is None else fee  # fills.fee_for
        entry_share = h.entry_fee * qty / h.opened_qty
        net = gross - fee  # booked to the wallet, and (less the entry fee's share) what the close realized
        self.wallet += net
        held = h.qty
        if qty != held:  # a full close drops the position: its margin is not read again
            h.margin -= h.margin * qty / held
        left = h.qty = held - qty
        h.realized += gross
        h.fees += fee
        h.exit_value += qty * price
        # the loss-streak cooldown counts from the bar's close: a fill inside the bar may have come that late
        s, recent = self.s, self.recent
        recent.insert(0, closed_trade(time_at(self, int(s.ts.item(j)) + s.bar_ms), net - entry_share))
        kept = len(recent)
        if kept == RECENT_TRADES + 1:
            recent.pop()  # the oldest: as ``del recent[RECENT_TRADES:]``, without the slice
        elif kept > RECENT_TRADES:
            del recent[RECENT_TRADES:]
        if left == 0:
            self._finish(j, reason, ms, h)

    def _liquidate(self, j: int, price: Decimal, ms: int) -> None:
        h = self.held()
        maintenance = fm.maintenance_margin(h.entry, h.qty, self.mmr)
        # as on the paper exchange: an isolated liquidation costs exactly the position's margin
        self.close(j, h.qty, price, "liquidation", ms, fee=maintenance, gross=maintenance - h.margin)

    def _finish(self, j: int, reason: str, ms: int, h: Holding) -> None:
        """Record the trade of the position ``h`` (the one held, just closed in full) and drop it."""
        c = self.columns
        opened, realized, fees, funding, entry_bar = h.opened_qty, h.realized, h.fees, h.funding, h.entry_bar
        c[0].append(entry_bar)
        c[1].append(j)
        c[2].append(h.entry_ms)
        c[3].append(ms)
        c[4].append(1 if h.side is LONG else -1)  # h.side.sign
        c[5].append(opened)
        c[6].append(h.entry)
        c[7].append(h.exit_value / opened)
        c[8].append(realized)
        c[9].append(fees)
        c[10].append(funding)
        c[11].append(realized - fees + funding)
        c[12].append(reason)
        c[13].append(h.stop)
        c[14].append(h.target)
        self.exposure_bars += j - entry_bar + 1
        self.holding = None

    # -- the result ------------------------------------------------------------------------------------
    def outcome(self) -> Outcome:
        """Return the run's outcome (call once, after the last bar)."""
        n = len(self.s)
        h = self.holding
        last = price_of(self.s.close[n - 1])
        open_view = None
        if h is not None:
            self.exposure_bars += n - h.entry_bar
            open_view = _open_view(h, last, self.equity(last) - self.wallet)
        return Outcome(
            ts=self.s.ts, close=self.s.close, bar_ms=self.s.bar_ms, first_bar=self.first_bar, equity=self.curve,
            capital=self.cfg.capital, final_equity=self.equity(last), trades=self.trades, open_position=open_view,
            open_fees=h.fees if h is not None else ZERO, funding=self.funding_total, denials=self.denials,
            events=self.events, signals=self.signals, exposure_bars=self.exposure_bars,
        )


def _open_view(h: Holding, mark: Decimal, unrealized: Decimal) -> dict[str, object]:
    from riskmgr.core.formatting import dec

    return {
        "side": h.side.value, "qty": dec(h.qty), "entry_price": dec(h.entry),
        "entry_time": from_ms(h.entry_ms).isoformat(),
        "mark_price": dec(mark), "unrealized_pnl": dec(unrealized), "stop_loss": dec(h.stop),
        "take_profit": dec(h.target), "fees": dec(h.fees), "funding": dec(h.funding),
    }
