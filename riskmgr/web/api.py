"""The JSON API (see ARCHITECTURE.md): thin views over the services; errors are JSON with the field named."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, jsonify, request

from riskmgr.accounts import equity_history, freshness, view_cache
from riskmgr.app.runtime import current_runtime
from riskmgr.core.domain import PositionSide
from riskmgr.core.formatting import dec
from riskmgr.core.validation import NAME_MAX, SYMBOL_MAX, json_object, opt_id, opt_time, req_str
from riskmgr.risk.ticket import parse_ticket, result_view, submit_ticket

bp = Blueprint("api", __name__, url_prefix="/api")


def _actor() -> str:
    return getattr(g, "actor", "operator")


@bp.get("/snapshot")
def snapshot():
    """Serve the view built once per poll (see riskmgr.accounts.view_cache); 304 when the client has this version."""
    runtime = current_runtime()
    version, view = view_cache.cached(runtime)
    version += freshness.etag_suffix(view, runtime.clock.now())  # a view gone stale by age is a new version
    if request.if_none_match.contains_weak(version):
        response = current_app.response_class(status=304)
    else:
        response = current_app.response_class(view_cache.render(view, runtime.clock.now()), mimetype="application/json")
    response.set_etag(version, weak=True)
    response.headers["Cache-Control"] = "no-store"  # a browser shows generated_at: never a stored copy's
    return response


@bp.get("/equity")
def equity():
    runtime = current_runtime()
    account = request.args.get("account") or None
    if account is not None:
        req_str({"account": account}, "account", list(runtime.accounts), max_len=NAME_MAX)
    body = equity_history.history_json(runtime, account, opt_time(request.args, "since"))
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/markets")
def markets():
    runtime = current_runtime()
    specs = runtime.market.specs()
    tickers = runtime.market.tickers()
    return jsonify(
        source=runtime.market.source,
        simulated=bool(runtime.market.simulated),
        markets=[
            {
                "symbol": s.symbol, "min_qty": dec(s.min_qty), "qty_step": dec(s.qty_step),
                "price_tick": dec(s.price_tick), "min_notional": dec(s.min_notional), "max_leverage": s.max_leverage,
                "mark": dec(tickers[s.symbol].mark), "ts": tickers[s.symbol].timestamp.isoformat(),
            }
            for s in sorted(specs.values(), key=lambda x: x.symbol)
        ],
    )


@bp.post("/orders")
def place_order():
    runtime = current_runtime()
    ticket = parse_ticket(json_object(request), runtime)
    answer = submit_ticket(runtime, ticket, _actor())
    entry = answer["entry"]
    if entry["accepted"]:
        return jsonify(answer), 201
    status = 409 if any(not v["allowed"] for v in entry["verdicts"]) else 422
    return jsonify(error="order not placed", detail=entry["message"], **answer), status


@bp.post("/positions/close")
def close_position():
    runtime = current_runtime()
    data = json_object(request)
    account = req_str(data, "account", list(runtime.accounts), max_len=NAME_MAX)
    symbol = req_str(data, "symbol", max_len=SYMBOL_MAX)
    runtime.specs.spec(account, symbol)  # a symbol the account does not trade is a 400 before anything is stored
    side = PositionSide(req_str(data, "side", ["long", "short"]))
    intent = opt_id(data, "intent_id") or str(uuid.uuid4())
    from riskmgr.controls.service import controls  # the close with its fill price and realized P&L

    outcome = controls(runtime).close(account, symbol, side, actor=_actor(), intent_id=intent)
    view = result_view(outcome.gateway) | outcome.as_dict() if outcome.gateway else outcome.as_dict()
    if outcome.accepted:
        return jsonify(view), 201
    return jsonify(error="position not closed", detail=outcome.message, **view), 422
