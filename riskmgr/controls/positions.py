"""Position controls through the one gate: move stop / target (or to break-even), partial close, close with its
fill and realized P&L, cancel one order.

Each control takes the account's gate lock (``OrderGateway.hold``), reads the position and its resting orders
fresh from the venue, checks, then acts through the gateway, which records the intent and audits it. Two callers
moving the same stop at once are serialized: the second reads the first one's stop, and one stop remains.

A stop moved towards the mark (tightened) is always allowed; one moved away (widened) takes more risk and is judged
like a new order: the trading state, fresh account data, the risk per trade at the new stop (fees and slippage
included, from the entry or the mark, whichever loses more) and the liquidation price. The protection watchdog
restores a missing stop at the last stop sent through the gate, so it keeps the level the operator chose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from riskmgr.controls import levels
from riskmgr.core.domain import (
    AccountStatus,
    Order,
    OrderRequest,
    OrderType,
    Position,
    PositionSide,
    Protection,
    Verdict,
)
from riskmgr.core.errors import ExchangeError, NotSupportedError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.risk.costs import existing_loss, trading_costs
from riskmgr.risk.gateway import GatewayResult
from riskmgr.risk.protection import find_protection
from riskmgr.risk.sizing import fmt_money, fmt_number, fmt_pct, round_down_to_step
from riskmgr.risk.state import admits

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ControlResult:
    """What one control did: accepted or not, a sentence for the operator, the gateway's answer, and figures."""

    action: str
    accepted: bool
    message: str
    gateway: GatewayResult | None = None
    verdicts: tuple[Verdict, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome JSON-safe."""
        verdicts = self.verdicts or (self.gateway.verdicts if self.gateway else ())
        return {
            "action": self.action, "accepted": self.accepted, "message": self.message,
            "client_id": self.gateway.client_id if self.gateway else None,
            "order": _order_dict(self.gateway.order) if self.gateway and self.gateway.order else None,
            "verdicts": [{"allowed": v.allowed, "rule": v.rule, "reason": v.reason} for v in verdicts],
            **self.details,
        }


class PositionControls:
    """The controls of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    # -- reads ------------------------------------------------------------------------------------------
    def position(self, account: str, symbol: str, side: PositionSide) -> Position:
        """Return the open position, read fresh; a ValidationError naming ``symbol`` when there is none."""
        for p in self.runtime.accounts[account].fetch_positions():
            if p.symbol == symbol and p.side is side:
                return p
        raise ValidationError("symbol", f"there is no open {side.value} position on {symbol} in {account}")

    def _orders(self, account: str) -> list[Order]:
        return self.runtime.accounts[account].fetch_open_orders()

    def protection(self, account: str, position: Position) -> Protection:
        """Return the position's resting stop and target, read fresh."""
        return find_protection(position, [o for o in self._orders(account) if o.symbol == position.symbol])

    # -- move stop / target ------------------------------------------------------------------------------
    def move_protection(self, account: str, symbol: str, side: PositionSide, *, stop_loss: Decimal | None,
                        take_profit: Decimal | None, break_even: bool, actor: str, intent_id: str) -> ControlResult:
        """Move the stop (to a price or to break-even) and/or the target of one open position."""
        if break_even and stop_loss is not None:
            raise ValidationError("break_even", "give either stop_loss or break_even, not both")
        if stop_loss is None and take_profit is None and not break_even:
            raise ValidationError("stop_loss", "give a new stop_loss, a take_profit, or break_even")
        with self.runtime.gateway.hold(account):
            position = self.position(account, symbol, side)
            before = self.protection(account, position)
            spec = self.runtime.gateway.spec(account, symbol)
            details: dict[str, Any] = {"old_stop": dec(before.stop_loss), "old_target": dec(before.take_profit),
                                       "mark": dec(position.mark_price), "entry": dec(position.entry_price)}
            stop = before.stop_loss
            if break_even:
                costs = trading_costs(self.runtime.accounts[account], spec, self.runtime.limits())
                stop, per_unit = levels.break_even_stop(position, costs, spec.price_tick)
                details["break_even_costs_per_unit"] = dec(per_unit.quantize(Decimal("1e-8")))
            elif stop_loss is not None:
                stop = levels.round_stop(side, stop_loss, spec.price_tick)
                levels.check_stop_side(position, stop)
            if stop is None:
                raise ValidationError("stop_loss", "the position has no stop-loss to keep: give one with the target")
            target = before.take_profit
            if take_profit is not None:
                target = levels.round_target(side, take_profit, spec.price_tick)
                levels.check_target_side(position, target)
            details |= {"new_stop": dec(stop), "new_target": dec(target)}
            action = "break-even" if break_even else ("move-stop" if stop_loss is not None else "move-target")
            if levels.widens(side, before.stop_loss, stop):
                verdicts = self.widening_verdicts(account, position, stop, spec.price_tick)
                if any(not v.allowed for v in verdicts):
                    return self._denied(account, action, position, stop, verdicts, actor, details)
            result = self.runtime.gateway.protect(
                account, symbol, side, stop_loss=stop, take_profit=target, actor=actor, intent_id=intent_id,
                purpose=action, replace_existing=True,
            )
        what = f"{side.value} {symbol}: stop {_level(before.stop_loss)} → {_level(stop)}"
        if take_profit is not None:
            what += f", target {_level(before.take_profit)} → {_level(target)}"
        message = f"{what}" if result.accepted else f"{what} not done: {result.message}"
        return ControlResult(action, result.accepted, message, result, details=details)

    def widening_verdicts(self, account: str, position: Position, stop: Decimal, tick: Decimal) -> list[Verdict]:
        """Judge a stop moved away from the mark like new risk: state, fresh data, risk per trade, liquidation."""
        runtime, limits = self.runtime, self.runtime.limits()
        verdicts = [admits(runtime.trading.current().state, reduces_exposure=False, is_cancel=False)]
        snap = runtime.snapshots.latest().get(account)
        now = runtime.clock.now()
        if snap is None or snap.balance is None or snap.fetched_at is None or snap.status is not AccountStatus.OK:
            why = "the account has no good read" if snap is None else f"the account data is {snap.status.value}"
            verdicts.append(Verdict.deny("data_fresh", f"{why}: the risk of a wider stop cannot be judged"))
            return verdicts
        age = (now - snap.fetched_at).total_seconds()
        if age > limits.stale_after_seconds:
            verdicts.append(Verdict.deny("data_fresh", f"the account data is {age:.0f} s old, older than the limit "
                                                       f"{limits.stale_after_seconds} s"))
            return verdicts
        verdicts.append(Verdict.allow("data_fresh", f"account data {age:.0f} s old"))
        spec = runtime.gateway.spec(account, position.symbol)
        costs = trading_costs(runtime.accounts[account], spec, limits)
        loss = existing_loss((position,), stop, costs).total
        equity = snap.balance.equity
        pct = loss / equity * HUNDRED if equity > 0 else None
        text = f"risk if stopped at {fmt_number(stop)}: {loss.quantize(Decimal('0.01'))} USDT incl. fees and slippage"
        if pct is None or pct > limits.risk_per_trade_pct:
            share = "equity is not above 0" if pct is None else f"{fmt_pct(pct)} % of equity {fmt_money(equity)} USDT"
            verdicts.append(Verdict.deny("risk_per_trade", f"{text} is {share}, above the limit "
                                                           f"{fmt_number(limits.risk_per_trade_pct)} %"))
        else:
            verdicts.append(Verdict.allow("risk_per_trade", f"{text} is {fmt_pct(pct)} % of equity, within the limit "
                                                            f"{fmt_number(limits.risk_per_trade_pct)} %"))
        liq = position.liquidation_price
        long = position.side is PositionSide.LONG
        if liq is not None and ((stop <= liq) if long else (stop >= liq)):
            verdicts.append(Verdict.deny("liquidation_beyond_stop", f"the stop {fmt_number(stop)} is beyond the "
                                                                    f"liquidation price {fmt_number(liq)}"))
        return verdicts

    def _denied(self, account: str, action: str, position: Position, stop: Decimal, verdicts: list[Verdict],
                actor: str, details: dict[str, Any]) -> ControlResult:
        reasons = "; ".join(f"{v.rule}: {v.reason}" for v in verdicts if not v.allowed)
        message = (f"moving the stop of the {position.side.value} {position.symbol} away to {fmt_number(stop)} "
                   f"denied — {reasons}")
        self.runtime.audit.record("order.denied", actor, f"{action} {message}", account=account, data={
            "symbol": position.symbol, "side": position.side.value, "stop_loss": dec(stop),
            "verdicts": [{"allowed": v.allowed, "rule": v.rule, "reason": v.reason} for v in verdicts]})
        return ControlResult(action, False, message, None, tuple(verdicts), details)

    # -- partial close and close -------------------------------------------------------------------------
    def partial_close(self, account: str, symbol: str, side: PositionSide, *, percent: Decimal | None,
                      qty: Decimal | None, actor: str, intent_id: str) -> ControlResult:
        """Close part of a position (``percent`` 1–100 or ``qty``, rounded down to the lot step), reduce-only."""
        if (percent is None) == (qty is None):
            raise ValidationError("percent", "give either percent (1–100) or qty, not both")
        if percent is not None and percent >= HUNDRED:
            return self.close(account, symbol, side, actor=actor, intent_id=intent_id)
        with self.runtime.gateway.hold(account):
            position = self.position(account, symbol, side)
            spec = self.runtime.gateway.spec(account, symbol)
            size, step = position.size, spec.qty_step
            wanted = size * percent / HUNDRED if percent is not None else qty
            field_name = "percent" if percent is not None else "qty"
            if qty is not None and qty > size:
                raise ValidationError("qty", f"{fmt_number(qty)} is more than the position's {fmt_number(size)} "
                                             f"{spec.base}; allowed above 0 up to {fmt_number(size)}")
            amount = round_down_to_step(wanted, step)  # type: ignore[arg-type]  # the caller validated: percent or qty is set
            if amount <= 0:
                raise ValidationError(field_name, f"{fmt_number(wanted)} {spec.base} rounds down to 0 at the lot step "  # type: ignore[arg-type]  # the caller validated: percent or qty is set
                                                  f"{fmt_number(step)}; allowed at least {fmt_number(step)} "
                                                  f"{spec.base} of the {fmt_number(size)} open")
            if amount >= size:
                return self.close(account, symbol, side, actor=actor, intent_id=intent_id)
            if size - amount < spec.min_qty:
                raise ValidationError(field_name, f"closing {fmt_number(amount)} would leave "
                                                  f"{fmt_number(size - amount)} {spec.base}, below the minimum "
                                                  f"{fmt_number(spec.min_qty)}: close the whole position instead")
            before = self.protection(account, position)
            since = self.runtime.clock.now()
            request = OrderRequest(symbol, side.close_order_side, OrderType.MARKET, amount, reduce_only=True)
            result = self.runtime.gateway.submit(account, request, actor=actor, intent_id=intent_id,
                                                 purpose="partial-close")
            details = {"closed_qty": dec(amount), "position_qty": dec(size), "remaining_qty": dec(size - amount)}
            if result.accepted:
                details |= self._resize_stop(account, symbol, side, before, actor, intent_id)
        if not result.accepted:
            return ControlResult("partial-close", False, f"partial close of {fmt_number(amount)} {spec.base} "
                                 f"{symbol} not done: {result.message}", result, details=details)
        details |= self.fill(account, position, result.order, since)
        message = (f"closed {fmt_number(amount)} of {fmt_number(size)} {spec.base} ({side.value} {symbol})"
                   + _fill_text(details) + f"; {fmt_number(size - amount)} {spec.base} left, {details['stop_note']}")
        return ControlResult("partial-close", True, message, result, details=details)

    def _resize_stop(self, account: str, symbol: str, side: PositionSide, before: Protection, actor: str,
                     intent_id: str) -> dict[str, Any]:
        """Make the stop cover exactly what is left (a venue with sized stops keeps the old size otherwise)."""
        rest = self.position(account, symbol, side)
        now = self.protection(account, rest)
        if now.stop_covers_full_size:
            return {"stop_note": f"its stop {_level(now.stop_loss)} covers the rest"}
        stop = now.stop_loss or before.stop_loss
        if stop is None:
            return {"stop_note": "it had no stop-loss before (the watchdog places one)"}
        result = self.runtime.gateway.protect(
            account, symbol, side, stop_loss=stop, take_profit=now.take_profit or before.take_profit, actor=actor,
            intent_id=f"{intent_id}:resize", purpose="resize-stop", replace_existing=True,
        )
        if result.accepted:
            return {"stop_note": f"its stop {_level(stop)} resized to the rest"}
        return {"stop_note": f"its stop could NOT be resized ({result.message}); the watchdog retries"}

    def close(self, account: str, symbol: str, side: PositionSide, *, actor: str, intent_id: str) -> ControlResult:
        """Close one whole position at market (reduce-only) and report its fill and realized P&L where known."""
        with self.runtime.gateway.hold(account):
            position = self.position(account, symbol, side)
            since = self.runtime.clock.now()
            result = self.runtime.gateway.close_position(account, symbol, side, actor=actor, intent_id=intent_id)
        if not result.accepted:
            return ControlResult("close", False, f"{side.value} {symbol} not closed: {result.message}", result,
                                 details={"closed_qty": dec(position.size)})
        details = {"closed_qty": dec(position.size), "remaining_qty": "0"} | self.fill(
            account, position, result.order, since)
        message = f"closed the {side.value} {fmt_number(position.size)} {symbol}" + _fill_text(details)
        return ControlResult("close", True, message, result, details=details)

    def fill(self, account: str, position: Position, order: Order | None, since: datetime) -> dict[str, Any]:
        """Return the fill price and the realized P&L (USDT and % of the closed notional at entry), where known."""
        price = order.avg_fill_price if order is not None else None
        out: dict[str, Any] = {"fill_price": dec(price), "realized_pnl": None, "realized_pnl_pct": None}
        if price is None:
            out["fill_note"] = "the venue's reply carries no fill price"
        try:
            closes = self.runtime.accounts[account].fetch_closed_trades(since - timedelta(seconds=1))
        except NotSupportedError:
            out["pnl_note"] = "this venue cannot report closed trades: realized P&L unknown"
            return out
        except ExchangeError as exc:
            out["pnl_note"] = f"closed trades could not be read: {exc.describe()}"
            return out
        match = next((c for c in closes if c.symbol == position.symbol and c.side in (None, position.side)
                      and c.closed_at >= since), None)
        if match is None:
            out["pnl_note"] = "the venue has not listed the close yet: realized P&L unknown for now"
            return out
        qty = order.filled_qty if order is not None and order.filled_qty else position.size
        notional = position.entry_price * qty
        out["realized_pnl"] = dec(match.realized_pnl)
        out["realized_pnl_pct"] = dec((match.realized_pnl / notional * HUNDRED).quantize(Decimal("0.01"))) \
            if notional > 0 else None
        return out

    # -- cancel one order --------------------------------------------------------------------------------
    def cancel(self, account: str, order_id: str, *, actor: str) -> ControlResult:
        """Cancel one open order; the last stop-loss of an open position is refused (every position keeps one)."""
        with self.runtime.gateway.hold(account):
            orders = self._orders(account)
            order = next((o for o in orders if o.id == order_id and o.status.is_open), None)
            if order is None:
                raise ValidationError("order_id", f"there is no open order {order_id!r} on {account}")
            if order.is_stop_loss:
                refusal = self._last_stop(account, order, orders)
                if refusal is not None:
                    self.runtime.audit.record("order.cancel_refused", actor, refusal, account=account,
                                              data={"order_id": order_id, "symbol": order.symbol})
                    return ControlResult("cancel", False, refusal, None, (Verdict.deny("stop_required", refusal),),
                                         {"order_id": order_id})
            self.runtime.gateway.cancel(account, order.symbol, order.id, actor=actor)
        kind = "stop-loss" if order.is_stop_loss else "take-profit" if order.is_take_profit else "order"
        return ControlResult("cancel", True, f"cancelled the {kind} {order.id} ({order.side.value} {order.symbol})",
                             None, details={"order_id": order.id, "order": _order_dict(order)})

    def _last_stop(self, account: str, order: Order, orders: list[Order]) -> str | None:
        """Return why cancelling the stop ``order`` is refused, or None when another stop still covers the position."""
        for position in self.runtime.accounts[account].fetch_positions():
            if position.symbol != order.symbol or order.side is not position.side.close_order_side \
                    or order.position_side not in (None, position.side):
                continue
            before = find_protection(position, orders)
            after = find_protection(position, [o for o in orders if o.id != order.id])
            if before.stop_loss is not None and not after.stop_covers_full_size:
                return (f"refused: {order.id} is the last stop-loss covering the {position.side.value} "
                        f"{fmt_number(position.size)} {position.symbol}; every position keeps an exchange-side stop. "
                        "Move the stop instead, or close the position")
        return None


def _level(price: Decimal | None) -> str:
    return "none" if price is None else fmt_number(price)


def _fill_text(details: dict[str, Any]) -> str:
    text = f" at {fmt_number(Decimal(details['fill_price']))}" if details.get("fill_price") else ""
    if details.get("realized_pnl") is not None:
        pct = f" ({details['realized_pnl_pct']} %)" if details.get("realized_pnl_pct") is not None else ""
        text += f", realized P&L {Decimal(details['realized_pnl']).quantize(Decimal('0.01'))} USDT{pct}"
    elif details.get("pnl_note"):
        text += f" ({details['pnl_note']})"
    return text


def _order_dict(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "status": order.status.value, "symbol": order.symbol, "side": order.side.value,
        "type": order.type.value, "qty": dec(order.qty), "price": dec(order.price),
        "avg_fill_price": dec(order.avg_fill_price), "trigger_price": dec(order.trigger_price),
    }
