"""The paper exchange: a simulated USDT-margined futures account kept in the database.

Fills, fees, slippage, triggers, liquidations and funding follow the model in ``fills.py``. Between calls the market's
tick path is replayed (``sync``), so resting limits, stop-losses, take-profits and liquidations fire at the
prices the market really went through, in time order. ``sync`` runs at the start of every public method and from
a one-second tick job.

Accounts work in one-way mode (at most one position per symbol). New symbols start at 1x leverage, isolated
margin, until ``set_leverage`` / ``set_margin_mode`` (or the order request) says otherwise; neither can change
under an open position. Balance: equity = wallet + unrealized P&L; margin used = the positions' initial margin
plus what resting orders hold; available = wallet - margin used + cross unrealized losses (unrealized gains never
count), never below zero.

Every operation is one database transaction that takes the write lock first (``BEGIN IMMEDIATE`` on SQLite,
``SELECT ... FOR UPDATE`` of the account row elsewhere), so two threads or processes acting on one account see
each other's changes whole. The class keeps no state of its own: a new instance on the same engine sees the same
account. It never needs Flask.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from riskmgr.core.clock import Clock, from_ms
from riskmgr.core.domain import (
    ZERO,
    Balance,
    Candle,
    MarginMode,
    MarketSpec,
    Order,
    OrderRequest,
    OrderSide,
    OrderType,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import (
    ConfigError,
    ExchangeError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    TemporaryError,
    ValidationError,
)
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.exchanges.fills import BPS, FillModel, FillRecord
from riskmgr.exchanges.paper import orders as paper_orders
from riskmgr.exchanges.paper.ledger import OPEN_STATUSES, Ledger, mark_of
from riskmgr.exchanges.paper.matching import replay
from riskmgr.exchanges.paper.models import PaperAccount, PaperFill, money
from riskmgr.exchanges.paper.views import order_from_row, position_from_row
from riskmgr.market.base import TIMEFRAME_SECONDS, CandleArrays
from riskmgr.risk.context import ClosedTrade

MAX_FILLS = 10000
_QUEUES: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()  # see _queue
_QUEUES_GUARD = threading.Lock()
MAX_FUNDING = Decimal("0.01")  # a fraction per 8 hours: 1 %, as the backtester's funding_pct_8h allows


class PaperMarket(Protocol):
    """The market the paper exchange trades on: ``MarketData`` and ``PricePath`` together."""

    def specs(self) -> dict[str, MarketSpec]: ...

    def ticker(self, symbol: str, at: datetime | None = None) -> Ticker: ...

    def tickers(self, at: datetime | None = None) -> dict[str, Ticker]: ...

    def candles(
        self, symbol: str, timeframe: str, *, end: datetime | None = None, limit: int = 500
    ) -> CandleArrays: ...

    def path(self, symbol: str, start: datetime, end: datetime) -> CandleArrays: ...


class PaperExchange(ExchangeAdapter):
    """A simulated account on ``market``, persisted through ``engine``; ``funding_rate`` is a fraction per 8 h."""

    exchange = "paper"
    mode = "paper"
    simulated = True
    # every read is a write transaction on the account (its lock, then a replay of the market up to now): reads
    # at the same time would only queue on that lock, and a paper-tick sync in between would see the queue too
    concurrent_reads = False

    def __init__(
        self,
        account: str,
        engine: Engine,
        market: PaperMarket,
        clock: Clock,
        *,
        start_balance: Decimal,
        taker_fee: Decimal,
        maker_fee: Decimal,
        slippage_bps: Decimal,
        funding_rate: Decimal = ZERO,
    ):
        super().__init__(account)
        if not account or len(account) > 64:
            raise ConfigError(f"paper account name {account!r} must have 1–64 characters")
        if not isinstance(start_balance, Decimal) or not start_balance.is_finite() or start_balance <= 0:
            raise ConfigError(f"start_balance={start_balance!r} must be a Decimal > 0")
        self._engine = engine
        self._market = market
        self._clock = clock
        self._start_balance = start_balance
        self._model = FillModel(taker_fee=taker_fee, maker_fee=maker_fee, slippage_bps=slippage_bps)
        if not isinstance(funding_rate, Decimal) or not funding_rate.is_finite() or abs(funding_rate) > MAX_FUNDING:
            raise ConfigError(f"funding_rate={funding_rate!r} is out of range; allowed -{MAX_FUNDING}–{MAX_FUNDING}")
        self._funding_rate = funding_rate

    # -- matching and housekeeping ------------------------------------------------------------------
    def sync(self) -> None:
        """Replay the market up to now: fire resting limits, triggers and liquidations."""
        with self._ledger("sync"):
            pass

    def reset(self) -> None:
        """Wipe the account's positions, orders and history and restart it at the start balance."""
        with self._ledger("reset", replay_path=False) as ledger:
            ledger.wipe(self._start_balance)

    def fills(self, symbol: str | None = None, limit: int = 500) -> list[FillRecord]:
        """Return the trade history, newest first."""
        if not 1 <= limit <= MAX_FILLS:
            raise ValidationError("limit", f"{limit} is out of range; allowed 1–{MAX_FILLS}")
        with self._ledger("fills") as ledger:
            return ledger.fill_history(symbol, limit)

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return every close (full or partial) since ``since``, newest first, with its P&L after fees."""
        with self._ledger("fetch_closed_trades") as ledger:
            query = (
                select(PaperFill)
                .where(PaperFill.account_id == ledger.account.id, PaperFill.closes.is_(True), PaperFill.ts >= since)
                .order_by(PaperFill.ts.desc(), PaperFill.id.desc())
            )
            trades = []
            for row in ledger.session.scalars(query):
                if row.net_pnl is None:  # a close always carries its net P&L; a row without one is corrupt
                    raise MalformedResponseError(f"paper fill {row.id} closes a position but has no net P&L")
                trades.append(ClosedTrade(closed_at=row.ts, realized_pnl=row.net_pnl, symbol=row.symbol,
                                          side=_closed_side(row)))
            return trades

    def taker_fee_rate(self, symbol: str) -> Decimal | None:
        """Return the taker fee every paper fill pays (the venue's setting)."""
        return self._model.taker_fee

    def slippage_rate(self, symbol: str) -> Decimal | None:
        """Return the slippage every paper taker fill suffers, as a fraction (the venue's setting)."""
        return self._model.slippage_bps / BPS

    def set_margin_mode(self, symbol: str, margin_mode: MarginMode) -> None:
        """Set the margin mode used for new positions on ``symbol``."""
        with self._ledger("set_margin_mode") as ledger:
            paper_orders.change_settings(ledger, symbol, None, margin_mode)

    # -- reads --------------------------------------------------------------------------------------
    def fetch_balance(self) -> Balance:
        with self._ledger("fetch_balance") as ledger:
            return ledger.balance(self._marks(ledger))

    def fetch_positions(self) -> list[Position]:
        with self._ledger("fetch_positions") as ledger:
            marks = self._marks(ledger)
            return [
                position_from_row(row, mark_of(marks, row.symbol), ledger.liquidation_price(row, marks))
                for row in ledger.positions()
            ]

    def fetch_open_orders(self) -> list[Order]:
        with self._ledger("fetch_open_orders") as ledger:
            return [order_from_row(row) for row in ledger.open_orders()]

    def fetch_markets(self) -> dict[str, MarketSpec]:
        with self._ledger("fetch_markets"):
            return self._market.specs()

    def fetch_tickers(self) -> dict[str, Ticker]:
        with self._ledger("fetch_tickers") as ledger:
            return self._market.tickers(at=ledger.now)

    def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
    ) -> list[Candle]:
        with self._ledger("fetch_candles") as ledger:
            seconds = TIMEFRAME_SECONDS.get(timeframe)
            if seconds is None:
                offered = ", ".join(TIMEFRAME_SECONDS)
                raise NotSupportedError(f"timeframe {timeframe!r} is not offered; use one of {offered}")
            end = ledger.now if since is None else min(ledger.now, since + timedelta(seconds=seconds * limit))
            bars = self._market.candles(symbol, timeframe, end=end, limit=limit)
            candles = [
                Candle(from_ms(int(ts)), float(o), float(h), float(lo), float(c), float(v))
                for ts, o, h, lo, c, v in zip(
                    bars.ts.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist(),
                    bars.close.tolist(), bars.volume.tolist(), strict=True,
                )
            ]
            return [c for c in candles if since is None or c.ts >= since]

    # -- writes -------------------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> Order:
        with self._ledger("place_order") as ledger:
            # before the market is asked: an unknown symbol is an invalid order, and a market without a maintenance
            # rate cannot be simulated (the position it opens could not be margined or liquidated)
            ledger.maintenance_rate(request.symbol)
            ticker = self._market.ticker(request.symbol, at=ledger.now)
            order = paper_orders.place(ledger, request, ticker, self._marks(ledger))
            return order_from_row(order)

    def place_position_protection(
        self,
        symbol: str,
        side: PositionSide,
        *,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        client_id: str | None = None,
    ) -> list[Order]:
        """Place position-level triggers; with a client id they get ``<id>-sl`` and ``<id>-tp``."""
        with self._ledger("place_position_protection") as ledger:
            ledger.spec(symbol)
            mark = self._market.ticker(symbol, at=ledger.now).mark
            levels = {OrderType.STOP_MARKET: stop_loss, OrderType.TAKE_PROFIT_MARKET: take_profit}
            rows = paper_orders.place_protection(ledger, symbol, side, levels, client_id, mark)
            return [order_from_row(row) for row in rows]

    def replace_position_protection(self, symbol: str, side: PositionSide, *, stop_loss: Decimal | None,
                                    take_profit: Decimal | None, client_id: str | None = None) -> list[Order]:
        """Swap the position's stop (and target, when given) triggers in one transaction: a refusal changes nothing."""
        with self._ledger("replace_position_protection") as ledger:
            mark = self._market.ticker(symbol, at=ledger.now).mark
            levels = {OrderType.STOP_MARKET: stop_loss, OrderType.TAKE_PROFIT_MARKET: take_profit}
            rows = paper_orders.replace_protection(ledger, symbol, side, levels, client_id, mark)
            return [order_from_row(row) for row in rows]

    def cancel_order(self, symbol: str, order_id: str) -> None:
        with self._ledger("cancel_order") as ledger:
            order = ledger.order(order_id)
            if order is None or order.symbol != symbol or order.status not in OPEN_STATUSES:
                raise NotFoundError(f"there is no open order {order_id!r} on {symbol}")
            ledger.cancel(order)

    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        with self._ledger("cancel_all_orders") as ledger:
            orders = [o for o in ledger.open_orders(symbol) if include_protective or not o.close_position]
            ledger.cancel_all(orders)
            return [str(order.id) for order in orders]

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        with self._ledger("close_position") as ledger:
            ledger.spec(symbol)
            ticker = self._market.ticker(symbol, at=ledger.now)
            return order_from_row(paper_orders.close(ledger, symbol, side, client_id, ticker))

    def set_leverage(self, symbol: str, leverage: int) -> None:
        with self._ledger("set_leverage") as ledger:
            paper_orders.change_settings(ledger, symbol, leverage, None)

    # -- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def _ledger(self, operation: str, *, replay_path: bool = True) -> Iterator[Ledger]:
        """Open one locked transaction on the account, replay the market up to now, commit on success."""
        try:
            with _queue(self._engine), Session(self._engine, expire_on_commit=False) as session:
                now = self._clock.now()
                account = _lock_account(session, self.account, self._start_balance, now)
                ledger = Ledger(session, account, self._model, self._market.specs(), now)
                if replay_path and now > account.last_matched_at:
                    replay(ledger, self._market, account.last_matched_at, now, self._funding_rate)
                    account.last_matched_at = now
                yield ledger
                session.commit()
        except ExchangeError as exc:
            exc.account = exc.account or self.account
            exc.operation = exc.operation or operation
            raise
        except OperationalError as exc:
            raise TemporaryError(
                f"paper database unavailable or busy: {exc.orig}", account=self.account, operation=operation
            ) from exc
        except IntegrityError as exc:
            # only a first-use race on another database can get here; the next attempt finds the account
            raise TemporaryError(
                f"paper account changed concurrently: {exc.orig}", account=self.account, operation=operation
            ) from exc

    def _marks(self, ledger: Ledger) -> dict[str, Decimal]:
        return {p.symbol: self._market.ticker(p.symbol, at=ledger.now).mark for p in ledger.positions()}


def _queue(engine: Engine) -> AbstractContextManager[object]:
    """Return the lock this process's threads queue on before they ask a SQLite file for its write lock.

    SQLite has one write lock per file, and a writer that finds it taken polls in its busy handler, sleeping up to
    100 ms between tries: five closes racing on one account took five polls' worth of sleep instead of five
    transactions. Queued here, the next writer starts the moment the last one commits. Other processes (and writes
    that do not come through here) still wait on SQLite's own lock. Other databases lock the account's row
    (``SELECT ... FOR UPDATE``), so accounts never wait for each other there: no queue.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _QUEUES_GUARD:
        queue = _QUEUES.get(engine)
        if queue is None:
            queue = _QUEUES[engine] = threading.RLock()
        return queue


def _lock_account(session: Session, name: str, start_balance: Decimal, now: datetime) -> PaperAccount:
    """Take the account's write lock before reading anything; create the account on first use."""
    connection = session.connection()
    query = select(PaperAccount).where(PaperAccount.name == name)
    if connection.dialect.name == "sqlite":
        _begin_immediate(connection, name)
    else:
        query = query.with_for_update()
    account = session.scalars(query).one_or_none()
    if account is None:
        account = PaperAccount(
            name=name,
            wallet_balance=money(start_balance),
            start_balance=money(start_balance),
            last_matched_at=now,
            created_at=now,
        )
        session.add(account)
        session.flush()
    return account


def _begin_immediate(connection: Connection, name: str) -> None:
    """Start the SQLite transaction with the write (RESERVED) lock, so two writers queue instead of deadlocking."""
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # the engine already began the transaction itself (e.g. the SQLAlchemy "begin" event recipe); a write before
    # any read takes the same lock that BEGIN IMMEDIATE would
    connection.execute(update(PaperAccount).where(PaperAccount.name == name).values(name=PaperAccount.name))


def _closed_side(fill: PaperFill) -> PositionSide:
    """Return the side of the position a closing fill reduced (the book is one-way: a closing sell closed a long)."""
    if fill.side not in (OrderSide.BUY.value, OrderSide.SELL.value):
        raise MalformedResponseError(f"paper fill {fill.id} has side {fill.side!r}, neither buy nor sell")
    return PositionSide.LONG if fill.side == OrderSide.SELL.value else PositionSide.SHORT
