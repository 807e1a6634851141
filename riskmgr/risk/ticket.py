"""The manual order ticket: parse and validate it, preview it (the pre-trade receipt), then send it through the
gateway with its protection.

Without a quantity the ticket is sized from the stop distance by the risk per trade ("size for me"). The gateway
places a filled entry's exchange-side stop right after the fill; if the stop cannot be placed the position is
closed at once rather than left unprotected (and both facts are audited).

A market order is judged at the mark of the moment it is sent, which may differ from the preview's. When the submit
is denied by a rule the mark decides (reward:risk, stop distance, liquidation, risk) the answer names the rule and
offers the stop and target re-centred on the current mark at the distances they had from ``reference_price`` (the
mark they were set against: the receipt's entry price); ``"recentre": true`` applies that before sending, and the
answer says so. Nothing is ever re-centred silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from riskmgr.core.domain import ZERO, MarginMode, MarketSpec, OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.core.labels import rule_label
from riskmgr.core.validation import (
    NAME_MAX,
    PRICE_MAX,
    QTY_MAX,
    SYMBOL_MAX,
    only_keys,
    opt_bool,
    opt_decimal,
    opt_id,
    opt_int,
    opt_str,
    req_str,
    shown,
)
from riskmgr.risk.gateway import GatewayResult, client_id_for
from riskmgr.risk.pretrade import PreTrade, verdict_dict
from riskmgr.risk.recentre import Recentred, recentre

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

TICKET_FIELDS = frozenset({
    "account", "symbol", "side", "type", "qty", "price", "leverage", "margin_mode", "stop_loss", "take_profit",
    "reduce_only", "intent_id", "recentre", "reference_price",
})


@dataclass(frozen=True)
class OrderTicket:
    account: str
    symbol: str
    side: OrderSide
    type: OrderType
    qty: Decimal | None  # None: size it from the stop distance by the risk per trade
    price: Decimal | None
    leverage: int | None
    margin_mode: MarginMode | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    reduce_only: bool
    intent_id: str
    recentre: bool = False  # move stop and target to the current mark before sending (market orders)
    reference_price: Decimal | None = None  # the mark stop and target were set against (the preview's entry price)

    @property
    def position_side(self) -> PositionSide:
        """The side of the position this ticket opens (or, reduce-only, the side it reduces)."""
        opens_long = self.side is OrderSide.BUY
        if self.reduce_only:
            opens_long = not opens_long
        return PositionSide.LONG if opens_long else PositionSide.SHORT

    def request(self, qty: Decimal | None = None) -> OrderRequest:
        """Return the order request (``qty`` replaces the ticket's; an unsized ticket carries 0 until sized)."""
        return OrderRequest(
            symbol=self.symbol, side=self.side, type=self.type, qty=qty if qty is not None else self.qty or ZERO,
            price=self.price,
            reduce_only=self.reduce_only, leverage=self.leverage, margin_mode=self.margin_mode,
            stop_loss=self.stop_loss, take_profit=self.take_profit,
        )


def parse_ticket(data: Mapping[str, Any], runtime: Runtime) -> OrderTicket:
    """Validate a ticket; every error names its field and the allowed values or range.

    Optional fields are "not set" only when absent or null: ``"margin_mode": 0`` or ``"qty": ""`` is an error.
    The symbol must be one the account trades; prices lie between the contract's tick and ``PRICE_MAX``, the
    quantity between its step and ``QTY_MAX``.
    """
    only_keys(data, TICKET_FIELDS, "a field of the order ticket")
    account = req_str(data, "account", list(runtime.accounts), max_len=NAME_MAX)
    symbol = req_str(data, "symbol", max_len=SYMBOL_MAX)
    spec = runtime.specs.spec(account, symbol)
    order_type = OrderType(req_str(data, "type", ["market", "limit"]))
    price = _price(data, "price", spec)
    if order_type is OrderType.LIMIT and price is None:
        raise ValidationError("price", "is required for a limit order")
    mode = opt_str(data, "margin_mode", ["isolated", "cross"])
    ticket = OrderTicket(
        account=account,
        symbol=symbol,
        side=OrderSide(req_str(data, "side", ["buy", "sell"])),
        type=order_type,
        qty=_qty(data, spec),
        price=price if order_type is OrderType.LIMIT else None,
        leverage=opt_int(data, "leverage", 1, spec.max_leverage),
        margin_mode=MarginMode(mode) if mode is not None else None,
        stop_loss=_price(data, "stop_loss", spec),
        take_profit=_price(data, "take_profit", spec),
        reduce_only=opt_bool(data, "reduce_only"),
        intent_id=opt_id(data, "intent_id") or str(uuid.uuid4()),
        recentre=_strict_bool(data, "recentre"),
        reference_price=_price(data, "reference_price", spec),
    )
    if ticket.qty is None and (ticket.reduce_only or ticket.stop_loss is None):
        why = "a reduce-only order" if ticket.reduce_only else "an order without a stop-loss to size it from"
        raise ValidationError("qty", f"is required for {why} (size for me needs a stop-loss)")
    _check_recentre(ticket)
    # re-centred levels are judged against the mark they were set at; they move with the mark before sending
    reference = ticket.reference_price if ticket.recentre else None
    _check_sides(ticket, price or reference or runtime.market.ticker(symbol).mark)
    return ticket


def _strict_bool(data: Mapping[str, Any], field: str) -> bool:
    raw = data.get(field, False)
    if not isinstance(raw, bool):
        raise ValidationError(field, f"must be true or false (a JSON boolean), got {shown(raw)}")
    return raw


def _price(data: Mapping[str, Any], field: str, spec: MarketSpec) -> Decimal | None:
    value = opt_decimal(data, field, positive=True, hi=PRICE_MAX)
    if value is not None and value < spec.price_tick:
        raise ValidationError(field, f"{value} is below the price tick {spec.price_tick} of {spec.symbol}; allowed "
                                     f"{spec.price_tick}–{PRICE_MAX}")
    return value


def _qty(data: Mapping[str, Any], spec: MarketSpec) -> Decimal | None:
    value = opt_decimal(data, "qty", positive=True, hi=QTY_MAX)
    if value is not None and value < spec.qty_step:
        raise ValidationError("qty", f"{value} is below the quantity step {spec.qty_step} of {spec.symbol} (it would "
                                     f"round to 0); allowed {spec.qty_step}–{QTY_MAX}")
    return value


def _check_recentre(t: OrderTicket) -> None:
    if not t.recentre:
        return
    if t.type is not OrderType.MARKET or t.reduce_only:
        raise ValidationError("recentre", "applies to market entries only: a limit order is judged at its own price")
    if t.stop_loss is None:
        raise ValidationError("recentre", "needs a stop-loss to re-centre")
    if t.reference_price is None:
        raise ValidationError("reference_price", "is required to re-centre: the mark the stop and target were set "
                                                 "against (the receipt's entry_price)")


def _check_sides(t: OrderTicket, ref: Decimal) -> None:
    if t.reduce_only:
        return
    long = t.side is OrderSide.BUY
    if t.stop_loss is not None and (t.stop_loss >= ref if long else t.stop_loss <= ref):
        where = "below" if long else "above"
        raise ValidationError("stop_loss", f"{t.stop_loss} must be {where} the entry price {ref} for a {t.side}")
    if t.take_profit is not None and (t.take_profit <= ref if long else t.take_profit >= ref):
        where = "above" if long else "below"
        raise ValidationError("take_profit", f"{t.take_profit} must be {where} the entry price {ref} for a {t.side}")


def preview_ticket(runtime: Runtime, ticket: OrderTicket) -> dict[str, Any]:
    """Return the pre-trade receipt of a ticket; nothing is sent."""
    receipt = PreTrade(runtime).receipt(ticket.account, ticket.request(), size=ticket.qty is None)
    if not ticket.reduce_only:  # the gate's per-account entry checks (entries paused) decide as the rules do
        extra = [verdict_dict(v) for v in runtime.gateway.entry_verdicts(ticket.account)]
        if extra:
            receipt["verdicts"] = extra + receipt["verdicts"]
            receipt["denials"] = [v for v in receipt["verdicts"] if not v["allowed"]]
            receipt["allowed"] = not receipt["denials"]
    return receipt


def submit_ticket(runtime: Runtime, ticket: OrderTicket, actor: str) -> dict[str, Any]:
    """Send the ticket through the gateway (which protects a filled entry or unwinds it).

    The leverage travels with the order, so a denied order changes nothing on the exchange. An unsized ticket is
    sized first; if no quantity comes out, nothing is sent and the receipt's denials are the answer (audited).
    """
    applied = None
    if ticket.recentre:
        applied = _recentred(runtime, ticket)
        ticket = replace(ticket, stop_loss=applied.stop, take_profit=applied.target)
    qty, receipt = ticket.qty, None
    if qty is None:
        receipt = preview_ticket(runtime, ticket)
        if receipt["qty"] is None or Decimal(receipt["qty"]) <= 0:
            return _unsized(runtime, ticket, receipt, actor) | _recentring(runtime, ticket, receipt["denials"], applied)
        qty = Decimal(receipt["qty"])
    result = runtime.gateway.submit(ticket.account, ticket.request(qty), actor=actor, intent_id=ticket.intent_id)
    answer = {
        "entry": result_view(result),
        "protection": result_view(result.protection) if result.protection else None,
        "unwind": result_view(result.unwind) if result.unwind else None,
        "receipt": receipt,
    }
    denials = [] if result.accepted else [
        {"rule": v.rule, "label": rule_label(v.rule), "reason": v.reason} for v in result.denials
    ]
    return answer | _recentring(runtime, ticket, denials, applied)


# rules whose verdict on a market order depends on the mark it is judged at
MARK_RULES = ("stop_required", "min_stop_distance", "risk_per_trade", "liquidation_beyond_stop", "reward_risk")


def _recentring(runtime: Runtime, ticket: OrderTicket, denials: list[dict[str, Any]],
                applied: Recentred | None) -> dict[str, Any]:
    """Return what was re-centred, or for a market entry the mark denied, the rules and the re-centred offer."""
    out: dict[str, Any] = {
        "denied_by": [d["rule"] for d in denials],
        "recentred": None if applied is None else applied.as_dict() | {"applied": True},
    }
    marked = [d["rule"] for d in denials if d["rule"] in MARK_RULES]
    if not marked or ticket.type is not OrderType.MARKET or ticket.reduce_only or ticket.stop_loss is None:
        return out
    if ticket.reference_price is None:
        out["recentre_hint"] = ("send reference_price (the mark your stop and target were set against) to be "
                                "offered them re-centred on the current mark")
        return out
    try:
        reference = applied.mark if applied is not None else ticket.reference_price
        offer = _recentred(runtime, replace(ticket, reference_price=reference))
    except (ExchangeError, ValidationError) as exc:
        out["recentre_hint"] = f"no re-centred levels: {exc.describe() if isinstance(exc, ExchangeError) else exc}"
        return out
    if not offer.moved and applied is not None:
        return out  # already at the current mark: moving again would change nothing
    check = preview_ticket(runtime, replace(ticket, stop_loss=offer.stop, take_profit=offer.target))
    out["recentred"] = offer.as_dict() | {
        "applied": False, "denied_by": marked, "allowed": check["allowed"], "denials": check["denials"],
        "offer": f"denied by {', '.join(rule_label(m) for m in marked)} at the current mark; {offer.describe()} "
                 f"({'every rule allows it' if check['allowed'] else 'still denied'}); send the ticket again with "
                 '"recentre": true to re-centre on the mark of that moment',
    }
    return out


def _recentred(runtime: Runtime, ticket: OrderTicket) -> Recentred:
    """Return the ticket's stop and target re-centred from its reference price on the account's current mark."""
    if ticket.stop_loss is None or ticket.reference_price is None:
        raise ValidationError("recentre", "needs a stop-loss and a reference_price")
    ticker = runtime.accounts[ticket.account].fetch_tickers().get(ticket.symbol)
    if ticker is None:
        raise ValidationError("symbol", f"account {ticket.account} reports no mark price for {ticket.symbol}")
    spec = runtime.accounts[ticket.account].fetch_markets()[ticket.symbol]
    return recentre(ticket.position_side, ticket.reference_price, ticket.stop_loss, ticket.take_profit, ticker.mark,
                    spec.price_tick)


def _unsized(runtime: Runtime, ticket: OrderTicket, receipt: dict[str, Any], actor: str) -> dict[str, Any]:
    denials = receipt["denials"] or [{"allowed": False, "rule": "risk_per_trade", "reason": "no quantity came out"}]
    message = "; ".join(f"{rule_label(v['rule'])}: {v['reason']}" for v in denials)
    runtime.audit.record(
        "order.denied", actor, f"manual {ticket.side} {ticket.symbol} {ticket.type} (size for me) denied — {message}",
        account=ticket.account, data={"receipt": receipt},
    )
    entry: dict[str, Any] = {
        "accepted": False, "client_id": client_id_for(ticket.account, ticket.intent_id), "duplicate": False,
        "message": message, "order": None,
        "verdicts": [{"allowed": v["allowed"], "rule": v["rule"], "label": rule_label(v["rule"]), "reason": v["reason"]}
                     for v in receipt["verdicts"]],
    }
    if all(v["allowed"] for v in entry["verdicts"]):
        entry["verdicts"].append({"allowed": False, "rule": "risk_per_trade", "label": rule_label("risk_per_trade"),
                                  "reason": message})
    return {"entry": entry, "protection": None, "unwind": None, "receipt": receipt}


def result_view(result: GatewayResult) -> dict[str, Any]:
    """Describe a gateway result for the API and the page."""
    order = result.order
    return {
        "accepted": result.accepted,
        "client_id": result.client_id,
        "duplicate": result.duplicate,
        "message": result.message,
        "order": None if order is None else {
            "id": order.id, "status": order.status.value, "symbol": order.symbol, "side": order.side.value,
            "type": order.type.value, "qty": dec(order.qty), "price": dec(order.price),
            "avg_fill_price": dec(order.avg_fill_price), "trigger_price": dec(order.trigger_price),
        },
        "verdicts": [{"allowed": v.allowed, "rule": v.rule, "label": rule_label(v.rule), "reason": v.reason}
                     for v in result.verdicts],
    }
