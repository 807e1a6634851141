"""The books of one paper account inside one locked transaction: wallet, positions, orders and fills.

Every figure here follows the fill and margin model in ``fills.py``. Money is stored to 10 decimal places (the
scale of ``MONEY``), so each stored figure is quantized once, when it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from riskmgr.core.domain import (
    ZERO,
    Balance,
    MarginMode,
    MarketSpec,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
)
from riskmgr.core.errors import InvalidOrderError, MalformedResponseError, NotSupportedError
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.models import (
    PaperAccount,
    PaperFill,
    PaperFunding,
    PaperLiquidation,
    PaperOrder,
    PaperPosition,
    PaperSymbolSetting,
    money,
    new_uid,
)
from riskmgr.exchanges.paper.views import fill_from_row

OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)
DEFAULT_LEVERAGE = 1
DEFAULT_MARGIN_MODE = MarginMode.ISOLATED


def fmt(value: Decimal) -> str:
    """Write a Decimal for a message without exponent or trailing zeros (45250, 0.0005)."""
    return f"{value.normalize():f}"


class Ledger:
    """Reads and changes one account's state; the caller holds the write lock and commits.

    The account's positions and open orders are read once per transaction, on first use, and kept here: every
    change to them goes through this class (or changes the very rows it holds), so later reads in the same
    transaction come from memory instead of a query each. Nothing is kept across transactions.
    """

    def __init__(
        self,
        session: Session,
        account: PaperAccount,
        model: fm.FillModel,
        specs: Mapping[str, MarketSpec],
        now: datetime,
    ):
        self.session = session
        self.account = account
        self.model = model
        self.specs = specs
        self.now = now
        self._positions: dict[str, PaperPosition] | None = None  # by symbol, in the database's symbol order
        self._orders: list[PaperOrder] | None = None  # the orders open when read, and those placed since, by id

    # -- reads ---------------------------------------------------------------------------------------
    def spec(self, symbol: str) -> MarketSpec:
        """Return the contract spec of ``symbol``; an unknown symbol is an invalid order."""
        try:
            return self.specs[symbol]
        except KeyError:
            raise InvalidOrderError(f"unknown symbol {symbol!r}: the market lists no such USDT perpetual") from None

    def maintenance_rate(self, symbol: str) -> Decimal:
        """Return the maintenance margin rate of ``symbol``; a market without one cannot be simulated."""
        rate = self.spec(symbol).maintenance_margin_rate
        if rate is None:  # the books liquidate by this rate: without it the simulation would have to guess one
            raise NotSupportedError(f"the market lists no maintenance margin rate for {symbol}: it cannot be simulated")
        return rate

    def positions(self) -> list[PaperPosition]:
        """Return every open position, by symbol."""
        return list(self._position_map().values())

    def position(self, symbol: str) -> PaperPosition | None:
        """Return the position on ``symbol`` or None."""
        return self._position_map().get(symbol)

    def open_orders(self, symbol: str | None = None) -> list[PaperOrder]:
        """Return open orders (oldest first), of one symbol or all."""
        return [
            order for order in self._order_list()
            if order.status in OPEN_STATUSES and (symbol is None or order.symbol == symbol)
        ]

    def _position_map(self) -> dict[str, PaperPosition]:
        if self._positions is None:
            query = select(PaperPosition).where(PaperPosition.account_id == self.account.id)
            self._positions = {row.symbol: row for row in self.session.scalars(query.order_by(PaperPosition.symbol))}
        return self._positions

    def _order_list(self) -> list[PaperOrder]:
        if self._orders is None:
            query = select(PaperOrder).where(
                PaperOrder.account_id == self.account.id, PaperOrder.status.in_(OPEN_STATUSES)
            )
            self._orders = list(self.session.scalars(query.order_by(PaperOrder.id)))
        return self._orders

    def order(self, order_id: str) -> PaperOrder | None:
        """Return one order of this account by its id, or None."""
        if not order_id.isdigit():
            return None
        row = self.session.get(PaperOrder, int(order_id))
        return row if row is not None and row.account_id == self.account.id else None

    def order_by_client_id(self, client_id: str) -> PaperOrder | None:
        """Return the order carrying ``client_id`` or None."""
        query = select(PaperOrder).where(PaperOrder.account_id == self.account.id, PaperOrder.client_id == client_id)
        return self.session.scalars(query).one_or_none()

    def trigger(self, symbol: str, kind: OrderType) -> PaperOrder | None:
        """Return the open position-level trigger of ``kind`` guarding the position on ``symbol``, or None."""
        position = self.position(symbol)
        for order in self.open_orders(symbol):
            if order.type == kind.value and position is not None and order.position_side == position.side:
                return order
        return None

    def setting(self, symbol: str) -> tuple[int, MarginMode]:
        """Return the leverage and margin mode new positions on ``symbol`` get."""
        row = self.session.get(PaperSymbolSetting, (self.account.id, symbol))
        if row is None:
            return DEFAULT_LEVERAGE, DEFAULT_MARGIN_MODE
        return row.leverage, MarginMode(row.margin_mode)

    def leverage_for(self, symbol: str) -> int:
        """Return the leverage an order on ``symbol`` opens at (the position's own while one is open)."""
        position = self.position(symbol)
        return position.leverage if position is not None else self.setting(symbol)[0]

    def fill_history(self, symbol: str | None, limit: int) -> list[fm.FillRecord]:
        """Return fills newest first."""
        query = select(PaperFill).where(PaperFill.account_id == self.account.id)
        if symbol is not None:
            query = query.where(PaperFill.symbol == symbol)
        rows = self.session.scalars(query.order_by(PaperFill.ts.desc(), PaperFill.id.desc()).limit(limit))
        return [fill_from_row(row) for row in rows]

    # -- figures -------------------------------------------------------------------------------------
    def isolated_margin(self) -> Decimal:
        """Return the margin held by isolated positions."""
        return sum((p.margin for p in self.positions() if p.margin_mode == MarginMode.ISOLATED.value), ZERO)

    def reserved_margin(self) -> Decimal:
        """Return the margin (and taker fee) held for resting orders."""
        return sum((o.reserved_margin for o in self.open_orders()), ZERO)

    def balance(self, marks: Mapping[str, Decimal]) -> Balance:
        """Return wallet, equity (wallet + unrealized), available and margin used at ``marks``."""
        positions = self.positions()
        unrealized = sum((_unrealized(p, mark_of(marks, p.symbol)) for p in positions), ZERO)
        cross_unrealized = sum(
            (_unrealized(p, mark_of(marks, p.symbol)) for p in positions if p.margin_mode == MarginMode.CROSS.value),
            ZERO,
        )
        margin_used = sum((p.margin for p in positions), ZERO) + self.reserved_margin()
        wallet = self.account.wallet_balance
        # unrealized gains never free margin; cross losses use it up (isolated losses stay inside their margin)
        available = max(ZERO, wallet - margin_used + min(ZERO, cross_unrealized))
        return Balance(
            "USDT", wallet, money(wallet + unrealized), money(available), money(margin_used), money(unrealized)
        )

    def available(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Return the margin free for new orders at ``marks``."""
        return self.balance(marks).available

    def liquidation_price(self, position: PaperPosition, marks: Mapping[str, Decimal]) -> Decimal | None:
        """Return the position's liquidation price, rounded to the tick in the cautious direction."""
        spec = self.spec(position.symbol)
        side = PositionSide(position.side)
        if position.margin_mode == MarginMode.ISOLATED.value:
            raw = fm.isolated_liquidation_price_for_margin(
                side, position.entry_price, position.size, position.margin, self.maintenance_rate(position.symbol)
            )
        else:
            cross = [p for p in self.positions() if p.margin_mode == MarginMode.CROSS.value]
            raw = fm.cross_liquidation_price(
                side,
                position.entry_price,
                position.size,
                cross_balance=self.account.wallet_balance - self.isolated_margin(),
                other_unrealized=sum(
                    (_unrealized(p, mark_of(marks, p.symbol)) for p in cross if p.id != position.id), ZERO
                ),
                maintenance=sum((self.maintenance(p) for p in cross), ZERO),
            )
        if raw is None:
            return None
        rounded = fm.round_to_tick(raw, spec.price_tick, ROUND_CEILING if side is PositionSide.LONG else ROUND_FLOOR)
        return rounded if rounded > 0 else None

    def maintenance(self, position: PaperPosition) -> Decimal:
        """Return the position's maintenance margin."""
        return fm.maintenance_margin(position.entry_price, position.size, self.maintenance_rate(position.symbol))

    # -- changes -------------------------------------------------------------------------------------
    def save_setting(self, symbol: str, leverage: int, margin_mode: MarginMode) -> None:
        """Store the leverage and margin mode of ``symbol``."""
        row = self.session.get(PaperSymbolSetting, (self.account.id, symbol))
        if row is None:
            row = PaperSymbolSetting(account_id=self.account.id, symbol=symbol)
            self.session.add(row)
        row.leverage = leverage
        row.margin_mode = margin_mode.value

    def new_order(self, *, flush: bool = True, **fields: object) -> PaperOrder:
        """Insert an order (status NEW unless given) and return it, with its id unless ``flush`` is False (then
        it is inserted with the next flush, before the fills that name it)."""
        order = PaperOrder(
            account_id=self.account.id,
            status=OrderStatus.NEW.value,
            filled_qty=ZERO,
            fee=ZERO,
            reserved_margin=ZERO,
            created_at=self.now,
            updated_at=self.now,
        )
        for name, value in fields.items():
            setattr(order, name, value)
        orders = self._order_list()
        self.session.add(order)
        if flush:
            self.session.flush()
        orders.append(order)  # ids only grow, so the list stays oldest first
        return order

    def new_trigger(
        self, symbol: str, side: PositionSide, kind: OrderType, price: Decimal, client_id: str | None
    ) -> PaperOrder:
        """Insert a position-level stop-loss or take-profit that closes the whole position when it fires."""
        return self.new_order(
            symbol=symbol,
            side=side.close_order_side.value,
            type=kind.value,
            qty=None,
            trigger_price=price,
            reduce_only=True,
            close_position=True,
            client_id=client_id,
            position_side=side.value,
        )

    def cancel(self, order: PaperOrder) -> None:
        """Cancel an open order and release what it held."""
        order.status = OrderStatus.CANCELED.value
        order.reserved_margin = ZERO
        order.updated_at = self.now

    def cancel_all(self, orders: list[PaperOrder]) -> None:
        """Cancel many open orders with one UPDATE, as ``cancel`` would one by one."""
        if len(orders) < 2:
            for order in orders:
                self.cancel(order)
            return
        self.session.flush()  # any change still pending on these rows goes first, as it would have one by one
        values = {"status": OrderStatus.CANCELED.value, "reserved_margin": ZERO, "updated_at": self.now}
        ids = [order.id for order in orders]
        self.session.execute(
            update(PaperOrder).where(PaperOrder.id.in_(ids)).values(**values),
            execution_options={"synchronize_session": False},
        )
        for order in orders:  # the rows held here now say what the database says, without a change to flush
            for name, value in values.items():
                set_committed_value(order, name, value)

    def execute(
        self,
        order: PaperOrder | None,
        side: OrderSide,
        qty: Decimal,
        price: Decimal,
        *,
        symbol: str,
        maker: bool,
        reason: fm.FillReason,
        ts: datetime,
    ) -> Decimal:
        """Book a fill in one-way mode (reduce, close, open, add or flip); return the fee charged."""
        rate = self.model.maker_fee if maker else self.model.taker_fee
        position = self.position(symbol)
        fee = ZERO
        if position is not None and PositionSide(position.side).close_order_side is side:
            closing = min(qty, position.size)
            fee += self._reduce(position, closing, price, rate, FillContext(order, maker, reason, ts))
            qty -= closing
        if qty > 0:
            fee += self._open(symbol, side, qty, price, rate, FillContext(order, maker, reason, ts))
        return fee

    def record_order_fill(self, order: PaperOrder, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        """Add a fill to an order's filled quantity, average price and fee."""
        before = order.filled_qty
        total = before + qty
        previous = order.avg_fill_price if order.avg_fill_price is not None else ZERO
        order.avg_fill_price = money((previous * before + price * qty) / total)
        order.filled_qty = total
        order.fee = money(order.fee + fee)
        order.updated_at = self.now

    def _reduce(
        self, position: PaperPosition, qty: Decimal, price: Decimal, rate: Decimal, how: FillContext
    ) -> Decimal:
        side = PositionSide(position.side)
        share = money(position.entry_fees * qty / position.size)
        funding = money(position.funding * qty / position.size)  # already in the wallet; counted in the net P&L
        realized = money(fm.pnl(side, position.entry_price, qty, price))
        fee = money(fm.fee_for(price, qty, rate))
        self.account.wallet_balance = money(self.account.wallet_balance + realized - fee)
        net = realized - fee - share + funding
        self.add_fill(position.symbol, side.close_order_side, qty, price, fee, how, realized, net)
        if qty == position.size:
            self.remove_position(position, keep_orders=True)
        else:
            position.margin = money(position.margin - position.margin * qty / position.size)
            position.entry_fees = money(position.entry_fees - share)
            position.funding = money(position.funding - funding)
            position.size = position.size - qty
            position.updated_at = how.ts
        return fee

    def _open(
        self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal, rate: Decimal, how: FillContext
    ) -> Decimal:
        position = self.position(symbol)
        fee = money(fm.fee_for(price, qty, rate))
        self.account.wallet_balance = money(self.account.wallet_balance - fee)
        if position is None:
            # a flip deleted the old position on this (account, symbol) just before: that DELETE goes first
            self.session.flush()
            leverage, mode = self.setting(symbol)
            position = PaperPosition(
                account_id=self.account.id,
                uid=new_uid(),
                symbol=symbol,
                side=PositionSide.LONG.value if side is OrderSide.BUY else PositionSide.SHORT.value,
                size=ZERO,
                entry_price=price,
                leverage=leverage,
                margin_mode=mode.value,
                margin=ZERO,
                entry_fees=ZERO,
                funding=ZERO,
                opened_at=how.ts,
            )
            self.session.add(position)
            self._positions = None  # read again, in the database's symbol order, when next asked
        position.entry_price = money(fm.average_entry(position.entry_price, position.size, price, qty))
        position.margin = money(position.margin + fm.initial_margin(price, qty, position.leverage))
        position.entry_fees = money(position.entry_fees + fee)
        position.size = position.size + qty
        position.updated_at = how.ts
        self.add_fill(symbol, side, qty, price, fee, how, ZERO, None)
        return fee

    def remove_position(self, position: PaperPosition, *, keep_orders: bool) -> None:
        """Delete a closed position and cancel its triggers and reduce-only orders (all orders if liquidated)."""
        for order in self.open_orders(position.symbol):
            if not keep_orders or order.close_position or order.reduce_only:
                self.cancel(order)
        self.session.delete(position)
        self._position_map().pop(position.symbol, None)

    def add_fill(
        self,
        symbol: str,
        side: OrderSide,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        how: FillContext,
        realized: Decimal,
        net: Decimal | None,
    ) -> None:
        """Record one fill in the trade history; ``net`` is given for fills that close (part of) a position."""
        self.session.add(
            PaperFill(
                account_id=self.account.id,
                order=how.order,
                ts=how.ts,
                symbol=symbol,
                side=side.value,
                qty=qty,
                price=money(price),
                fee=fee,
                realized_pnl=realized,
                net_pnl=money(net) if net is not None else None,
                closes=net is not None,
                reason=how.reason.value,
                maker=how.maker,
            )
        )

    def wipe(self, start_balance: Decimal) -> None:
        """Delete the account's history, orders, positions and settings; restart the wallet at ``start_balance``."""
        for model in (PaperFill, PaperFunding, PaperOrder, PaperPosition, PaperSymbolSetting):
            self.session.execute(delete(model).where(model.account_id == self.account.id))
        # a liquidation not yet announced stays until it is: a reset must not swallow the alert of a real loss
        self.session.execute(delete(PaperLiquidation).where(PaperLiquidation.account_id == self.account.id,
                                                            PaperLiquidation.announced_at.is_not(None)))
        self.account.wallet_balance = money(start_balance)
        self.account.start_balance = money(start_balance)
        self.account.last_matched_at = self.now
        self._positions, self._orders = {}, []


@dataclass(frozen=True, slots=True)
class FillContext:
    """How a fill came about: the order (if any), maker or taker, why, and when."""

    order: PaperOrder | None
    maker: bool
    reason: fm.FillReason
    ts: datetime


def _unrealized(position: PaperPosition, mark: Decimal) -> Decimal:
    return fm.pnl(PositionSide(position.side), position.entry_price, position.size, mark)


def mark_of(marks: Mapping[str, Decimal], symbol: str) -> Decimal:
    """Return the mark of ``symbol``; a missing one means the price was never read, so no figure is made up."""
    try:
        return marks[symbol]
    except KeyError:
        raise MalformedResponseError(f"no mark price for {symbol}; cannot value the position") from None

