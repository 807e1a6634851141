"""The JSON API of the position controls and account switches (CSRF and bearer token as every write route)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from flask import Blueprint, g, jsonify, request

from riskmgr.app.runtime import current_runtime
from riskmgr.controls.service import controls, pause_entries, switch_notes, switches, switches_view
from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import (
    ID_MAX,
    NAME_MAX,
    PRICE_MAX,
    QTY_MAX,
    REASON_MAX,
    SYMBOL_MAX,
    json_object,
    only_keys,
    opt_bool,
    opt_decimal,
    opt_id,
    opt_str,
    req_str,
)

bp = Blueprint("controls", __name__)
POSITION_KEYS = frozenset({"account", "symbol", "side", "intent_id"})


def _actor() -> str:
    return getattr(g, "actor", "operator")


def _position_args(data: dict[str, Any]) -> tuple[str, str, PositionSide, str]:
    runtime = current_runtime()
    account = req_str(data, "account", list(runtime.accounts), max_len=NAME_MAX)
    symbol = req_str(data, "symbol", max_len=SYMBOL_MAX)
    runtime.specs.spec(account, symbol)  # a symbol the account does not trade is a 400 before anything is stored
    side = PositionSide(req_str(data, "side", ["long", "short"]))
    return account, symbol, side, opt_id(data, "intent_id") or str(uuid.uuid4())


def _answer(outcome: Any, ok_status: int = 200):
    view = outcome.as_dict()
    if outcome.accepted:
        return jsonify(view), ok_status
    status = 409 if any(not v["allowed"] for v in view["verdicts"]) else 422
    return jsonify(error=f"{outcome.action} not done", detail=outcome.message, **view), status


@bp.post("/api/positions/protection")
def move_protection():
    """Move the stop-loss (to a price, or ``"break_even": true``) and/or the take-profit of one position."""
    data = json_object(request)
    only_keys(data, POSITION_KEYS | {"stop_loss", "take_profit", "break_even"}, "a protection move")
    account, symbol, side, intent = _position_args(data)
    outcome = controls(current_runtime()).move_protection(
        account, symbol, side, stop_loss=opt_decimal(data, "stop_loss", positive=True, hi=PRICE_MAX),
        take_profit=opt_decimal(data, "take_profit", positive=True, hi=PRICE_MAX),
        break_even=opt_bool(data, "break_even"), actor=_actor(), intent_id=intent,
    )
    return _answer(outcome)


@bp.post("/api/positions/partial-close")
def partial_close():
    """Close part of one position: ``percent`` (1–100) or ``qty`` (rounded down to the lot step)."""
    data = json_object(request)
    only_keys(data, POSITION_KEYS | {"percent", "qty"}, "a partial close")
    account, symbol, side, intent = _position_args(data)
    outcome = controls(current_runtime()).partial_close(
        account, symbol, side, percent=opt_decimal(data, "percent", lo=Decimal(1), hi=Decimal(100)),
        qty=opt_decimal(data, "qty", positive=True, hi=QTY_MAX), actor=_actor(), intent_id=intent,
    )
    return _answer(outcome, 201)


@bp.delete("/api/orders/<order_id>")
def cancel_order(order_id: str):
    """Cancel one open order of ``?account=``; the last stop-loss of an open position is refused (409)."""
    runtime = current_runtime()
    account = req_str(request.args, "account", list(runtime.accounts), max_len=NAME_MAX)
    req_str({"order_id": order_id}, "order_id", max_len=ID_MAX)
    return _answer(controls(runtime).cancel(account, order_id, actor=_actor()))


@bp.get("/api/accounts/controls")
def account_controls():
    """Every account's switches, effective auto-trading and the banner's notes."""
    runtime = current_runtime()
    return jsonify(accounts=switches_view(runtime), notes=switch_notes(runtime))


def _account(name: str) -> str:
    return req_str({"account": name}, "account", list(current_runtime().accounts), max_len=NAME_MAX)


@bp.get("/api/accounts/<name>/entries")
def entries_state(name: str):
    return jsonify(switches(current_runtime()).get(_account(name)).as_dict())


@bp.post("/api/accounts/<name>/entries")
def set_entries(name: str):
    """Pause (``{"paused": true}``) or resume new entries of one account, with an optional reason."""
    account = _account(name)
    data = json_object(request)
    only_keys(data, {"paused", "reason"}, "an entries switch")
    if data.get("paused") is None:
        raise ValidationError("paused", "is required: true (pause new entries) or false (resume)")
    paused = opt_bool(data, "paused")
    reason = opt_str(data, "reason", max_len=REASON_MAX) or ""
    return jsonify(pause_entries(current_runtime(), account, paused, reason=reason, by=_actor()))


@bp.get("/api/accounts/<name>/auto-trading")
def auto_trading_state(name: str):
    account = _account(name)
    view = next(v for v in switches_view(current_runtime()) if v["account"] == account)
    return jsonify(view)


@bp.post("/api/accounts/<name>/auto-trading")
def set_auto_trading(name: str):
    """Switch auto-trading ``"on"``, ``"off"`` or back to the configured ``"default"`` for one account."""
    account = _account(name)
    data = json_object(request)
    only_keys(data, {"enabled", "reason"}, "an auto-trading switch")
    choice = req_str(data, "enabled", ["on", "off", "default"])
    reason = opt_str(data, "reason", max_len=REASON_MAX) or ""
    runtime = current_runtime()
    switches(runtime).set_auto_trading(account, {"on": True, "off": False, "default": None}[choice], reason=reason,
                                       by=_actor())
    return jsonify(next(v for v in switches_view(runtime) if v["account"] == account))

