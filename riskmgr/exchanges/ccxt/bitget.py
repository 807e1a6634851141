"""Bitget v2 "mix" USDT-FUTURES on a classic (non-UTA) account, through ``ccxt.bitget``.

Quirks handled here (docs/exchanges.md §2, §4):
- ccxt must be told ``uta: False`` or, with keys set, it probes /api/v3 and switches to the UTA endpoints;
  ``fetchMarkets.types ['swap']`` keeps spot out, and currencies (a spot endpoint) are not loaded at all.
- Open orders live in four lists: orders-pending plus orders-plan-pending once per planType (normal_plan,
  profit_loss — every TP/SL kind — and track_plan). Each is paged by ``endId``; bitget_orders.py reads the rows.
- The contract list has no maintenance margin rate: it comes from the position tier table
  (query-position-lever, ``keepMarginRate``), read per symbol when first asked for and then kept.
- Demo trading uses the same host with the ``paptrading: 1`` header: ``demo=True`` turns on ccxt's sandbox
  mode, which adds that header to every request except for the simulated S*-FUTURES product types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import ccxt

from riskmgr.core.clock import Clock, from_ms, to_ms
from riskmgr.core.domain import (
    ZERO,
    Balance,
    MarginMode,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import ExchangeError, InvalidOrderError, MalformedResponseError, NotFoundError, ValidationError
from riskmgr.exchanges.ccxt.adapter import CcxtAdapter, OpenOrder
from riskmgr.exchanges.ccxt.bitget_orders import PLAN_LISTS, closed_side, closing_order, plain_order, plan_order
from riskmgr.exchanges.ccxt.fields import dec, opt_dec, opt_time, pick, rows, text
from riskmgr.exchanges.tiers import RateCache, first_tier_rate
from riskmgr.risk.context import ClosedTrade

log = logging.getLogger(__name__)
PRODUCT_TYPE = "USDT-FUTURES"
MARGIN_COIN = "USDT"
_PAGE, _MAX_PAGES = 100, 20
# history-position's startTime is not documented as open or close time: ask this far back, filter by uTime
_HISTORY_LOOKBACK = timedelta(days=30)
_HOLD_SIDES = {"long": PositionSide.LONG, "short": PositionSide.SHORT}
_MARGIN_MODES = {"crossed": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}


class BitgetAdapter(CcxtAdapter):
    """One Bitget USDT-M futures account (classic account, one-way or hedge position mode)."""

    exchange = "bitget"
    duplicate_codes = frozenset({"40786", "43118"})  # ccxt files both under plain ExchangeError
    not_found_codes = frozenset({"22001", "22002", "40768", "43001", "43025"})  # no order / no position

    def __init__(self, account: str, api_key: str, secret: str, passphrase: str, *, base_url: str | None = None,
                 timeout_s: float = 10, markets: list[dict[str, Any]] | None = None, demo: bool = False,
                 clock: Clock | None = None):
        client = ccxt.bitget({
            "apiKey": api_key, "secret": secret, "password": passphrase, "has": {"fetchCurrencies": False},
            "options": {"defaultType": "swap", "uta": False, "fetchMarkets": {"types": ["swap"]}},
        })
        if demo:
            client.set_sandbox_mode(True)
        if base_url:
            # every Bitget API family shares one host; the paths carry /api/v2/...
            client.urls["api"] = {k: base_url.rstrip("/") for k in client.urls["api"]}
        self.demo = demo
        self.mode = "demo" if demo else "live"
        self._rates = RateCache()
        super().__init__(account, client, (api_key, secret, passphrase), timeout_s=timeout_s, markets=markets,
                         clock=clock)

    # -- reads ---------------------------------------------------------------------------------------
    def fetch_balance(self) -> Balance:
        """Return the USDT futures balance; equity is Bitget's accountEquity (wallet + unrealized P&L)."""
        with self._op("fetch_balance"):
            where = "mix/account/accounts"
            reply = self.client.privateMixGetV2MixAccountAccounts({"productType": PRODUCT_TYPE})
            row = next((r for r in rows(reply, "data", where) if r.get("marginCoin") == MARGIN_COIN), None)
            if row is None:
                raise MalformedResponseError(f"{where}: no {MARGIN_COIN} margin account in the reply")
            equity, available = dec(row, "accountEquity", where), dec(row, "available", where)
            unrealized = opt_dec(row, "unrealizedPL", where)
            crossed, isolated = opt_dec(row, "crossedMargin", where), opt_dec(row, "isolatedMargin", where)
            margin = crossed + isolated if crossed is not None and isolated is not None else None
            if unrealized is None or margin is None:
                # Bitget leaves these blank on some accounts: read them off the positions instead of guessing
                held = self._position_rows(None)
                where = "mix/position/all-position"
                if unrealized is None:
                    unrealized = sum((dec(p, "unrealizedPL", where) for p in held), ZERO)
                if margin is None:
                    margin = sum((dec(p, "marginSize", where) for p in held), ZERO)
            return Balance(MARGIN_COIN, equity - unrealized, equity, available, margin, unrealized)

    def fetch_positions(self) -> list[Position]:
        """Return every open USDT-M position with Bitget's mark and liquidation prices."""
        with self._op("fetch_positions"):
            return [self._position(row) for row in self._position_rows(None)]

    def _position_rows(self, native: str | None) -> list[dict[str, Any]]:
        base = {"productType": PRODUCT_TYPE, "marginCoin": MARGIN_COIN}
        if native is None:
            reply = self.client.privateMixGetV2MixPositionAllPosition(base)
        else:
            reply = self.client.privateMixGetV2MixPositionSinglePosition({**base, "symbol": native})
        held = rows(reply, "data", "mix/position")
        return [r for r in held if dec(r, "total", "mix/position") > 0]

    def _position(self, row: dict[str, Any]) -> Position:
        where = f"position {row.get('symbol')}"
        liquidation = opt_dec(row, "liquidationPrice", where)
        return Position(
            symbol=str(self._symbol_of(text(row, "symbol", where), where)),
            side=pick(row, "holdSide", where, _HOLD_SIDES), size=dec(row, "total", where),
            entry_price=dec(row, "openPriceAvg", where), mark_price=dec(row, "markPrice", where),
            leverage=dec(row, "leverage", where), margin_mode=pick(row, "marginMode", where, _MARGIN_MODES),
            liquidation_price=liquidation if liquidation is not None and liquidation > 0 else None,
            unrealized_pnl=dec(row, "unrealizedPL", where), margin=opt_dec(row, "marginSize", where),
            opened_at=opt_time(row, "cTime", where),
        )

    def fetch_tickers(self) -> dict[str, Ticker]:
        """Return last and mark prices of every USDT perpetual."""
        with self._op("fetch_tickers"):
            where = "mix/market/tickers"
            reply = self.client.publicMixGetV2MixMarketTickers({"productType": PRODUCT_TYPE})
            self.load_markets()
            out: dict[str, Ticker] = {}
            for row in rows(reply, "data", where):
                symbol = self._symbol_of(text(row, "symbol", where), where, reload=False)
                if symbol is not None:  # a contract outside our markets (delisted, pre-launch): not tradeable here
                    out[symbol] = Ticker(
                        symbol, dec(row, "lastPr", where), dec(row, "markPrice", where),
                        from_ms(int(dec(row, "ts", where))), opt_dec(row, "bidPr", where),
                        opt_dec(row, "askPr", where), opt_dec(row, "quoteVolume", where),
                    )
            return out

    def fetch_maintenance_margin_rate(self, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (query-position-lever, once per symbol)."""
        with self._op("fetch_maintenance_margin_rate"):
            native = self._native(symbol)
            return self._rates.get(native, lambda: self._tier_rate(native))

    def _tier_rate(self, native: str) -> Decimal:
        where = f"mix/market/query-position-lever {native}"
        reply = self.client.publicMixGetV2MixMarketQueryPositionLever({"symbol": native, "productType": PRODUCT_TYPE})
        tiers = rows(reply, "data", where)
        strays = {text(t, "symbol", where) for t in tiers} - {native}
        if strays:  # another contract's table would give another contract's rate
            raise MalformedResponseError(f"{where}: the reply lists tiers of {', '.join(sorted(strays))}")
        return first_tier_rate([(dec(t, "startUnit", where), dec(t, "keepMarginRate", where)) for t in tiers], where)

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return the positions closed since ``since``, newest first: symbol, side, netProfit (after fees, funding)."""
        if since.tzinfo is None:
            raise ValidationError("since", "must be a timezone-aware UTC datetime")
        with self._op("fetch_closed_trades"):
            where = "mix/position/history-position"
            found: list[dict[str, Any]] = []
            cursor = None
            for _ in range(_MAX_PAGES):
                query = {"productType": PRODUCT_TYPE, "startTime": str(to_ms(since - _HISTORY_LOOKBACK)),
                         "limit": str(_PAGE), **({"idLessThan": cursor} if cursor else {})}
                data = self.client.privateMixGetV2MixPositionHistoryPosition(query).get("data")
                batch = rows(data, "list", where, null_is_empty=True)
                found += batch
                cursor = data.get("endId")
                if len(batch) < _PAGE or not cursor:
                    break
            else:
                raise MalformedResponseError(f"{where}: more than {_PAGE * _MAX_PAGES} rows; refusing a partial list")
            self.load_markets()
            trades = [self._closed_trade(r, where) for r in found if r.get("marginCoin", MARGIN_COIN) == MARGIN_COIN]
            return sorted((t for t in trades if t.closed_at >= since), key=lambda t: t.closed_at, reverse=True)

    def _closed_trade(self, row: dict[str, Any], where: str) -> ClosedTrade:
        # no markets reload for an unknown id: a delisted contract stays in the history and would cost a reload
        # per read; its P&L still counts, without a symbol
        return ClosedTrade(
            from_ms(int(dec(row, "uTime", where))), dec(row, "netProfit", where),
            symbol=self._symbol_of(text(row, "symbol", where), where, reload=False),
            side=pick(row, "holdSide", where, _HOLD_SIDES) if row.get("holdSide") else None,
            opened_at=opt_time(row, "cTime", where), entry_price=opt_dec(row, "openAvgPrice", where),
            exit_price=opt_dec(row, "closeAvgPrice", where), qty=opt_dec(row, "closeTotalPos", where),
            venue_id=str(row["positionId"]) if row.get("positionId") else None,
        )

    # -- open orders ---------------------------------------------------------------------------------
    def _open_orders(self, symbol: str | None) -> list[OpenOrder]:
        base: dict[str, Any] = {"productType": PRODUCT_TYPE}
        if symbol is not None:
            base["symbol"] = self._native(symbol)
        listed = [
            OpenOrder(plain_order(r, self._unified), "normal")
            for r in self._pages(self.client.privateMixGetV2MixOrderOrdersPending, base, "orders-pending")
        ]
        marks: dict[str, Decimal] = {}

        def mark_of(native: str) -> Decimal:  # read once per listing, only when a closing trigger needs it
            if native not in marks:
                marks[native] = self._mark_price(native)
            return marks[native]

        for plan_list in PLAN_LISTS:
            found = self._pages(
                self.client.privateMixGetV2MixOrderOrdersPlanPending, {**base, "planType": plan_list},
                f"orders-plan-pending {plan_list}",
            )
            listed += [plan_order(r, plan_list, self._unified, mark_of) for r in found]
        return listed

    def _unified(self, native: str, where: str) -> str:
        return str(self._symbol_of(native, where))

    def _pages(
        self, endpoint: Callable[[dict[str, Any]], Any], params: dict[str, Any], where: str
    ) -> list[dict[str, Any]]:
        """Return every row of a list endpoint, following ``endId`` so a full page never hides the rest."""
        found: list[dict[str, Any]] = []
        cursor = None
        for _ in range(_MAX_PAGES):
            query = {**params, "limit": str(_PAGE), **({"idLessThan": cursor} if cursor else {})}
            data = endpoint(query).get("data")
            if not isinstance(data, dict):
                raise MalformedResponseError(f"{where}: field 'data' is not an object")
            batch = rows(data, "entrustedList", where, null_is_empty=True)
            found += batch
            cursor = data.get("endId")
            if len(batch) < _PAGE or not cursor:
                return found
        raise MalformedResponseError(f"{where}: more than {_PAGE * _MAX_PAGES} rows; refusing a partial list")

    def _mark_price(self, native: str) -> Decimal:
        reply = self.client.publicMixGetV2MixMarketTicker({"symbol": native, "productType": PRODUCT_TYPE})
        found = rows(reply, "data", "mix/market/ticker")
        if not found:
            raise MalformedResponseError(f"mix/market/ticker: no ticker for {native}")
        return dec(found[0], "markPrice", "mix/market/ticker")

    # -- writes --------------------------------------------------------------------------------------
    def _order_params(self, request: OrderRequest, market: dict[str, Any]) -> dict[str, Any]:
        where = "mix/account/account"
        account = self.client.privateMixGetV2MixAccountAccount(
            {"symbol": market["id"], "productType": PRODUCT_TYPE, "marginCoin": MARGIN_COIN}
        ).get("data")
        current = pick(account, "marginMode", where, _MARGIN_MODES)
        wanted = request.margin_mode or current
        if wanted is not current:
            self.set_margin_mode(request.symbol, wanted)
        # ccxt would otherwise send "crossed" whatever the symbol is set to, and one-way semantics
        params: dict[str, Any] = {"marginMode": wanted.value, "hedged": account.get("posMode") == "hedge_mode"}
        if request.client_id:
            params["clientOrderId"] = request.client_id
        if request.reduce_only:
            params["reduceOnly"] = True
        if request.stop_loss is not None:
            params["stopLoss"] = {"triggerPrice": float(request.stop_loss)}
        if request.take_profit is not None:
            params["takeProfit"] = {"triggerPrice": float(request.take_profit)}
        return params

    def _accepted_order(self, request: OrderRequest, result: dict[str, Any]) -> Order:
        info: dict[str, Any] = result["info"]  # ccxt keeps the venue's raw reply under "info"
        where = "mix/order/place-order"
        price = request.price
        if price is not None:
            price = Decimal(self.client.price_to_precision(request.symbol, float(price)))
        return Order(
            id=text(info, "orderId", where), symbol=request.symbol, side=request.side, type=request.type,
            status=OrderStatus.NEW, qty=self._sent_qty(request.symbol, request.qty), price=price,
            reduce_only=request.reduce_only, client_id=info.get("clientOid") or request.client_id,
            position_side=closed_side({}, request.side) if request.reduce_only else None,
        )

    def place_position_protection(self, symbol: str, side: PositionSide, *, stop_loss: Decimal | None = None,
                                  take_profit: Decimal | None = None, client_id: str | None = None) -> list[Order]:
        """Place pos_loss / pos_profit orders on the whole position (mark-price triggered, market exit).

        Client ids get a ``-sl`` / ``-tp`` suffix so both legs stay unique.
        """
        with self._op("place_position_protection"):
            if stop_loss is None and take_profit is None:
                raise self._fail(InvalidOrderError, "stop_loss/take_profit: give at least one price")
            native = self._native(symbol)
            row = self._held(native, side)
            hold = side.value if row.get("posMode") == "hedge_mode" else side.entry_order_side.value
            placed: list[Order] = []
            for plan, price, suffix, kind in (
                ("pos_loss", stop_loss, "sl", OrderType.STOP_MARKET),
                ("pos_profit", take_profit, "tp", OrderType.TAKE_PROFIT_MARKET),
            ):
                if price is None:
                    continue
                body = {
                    "symbol": native, "productType": PRODUCT_TYPE, "marginCoin": MARGIN_COIN, "planType": plan,
                    "triggerPrice": self.client.price_to_precision(symbol, float(price)),
                    "triggerType": "mark_price", "holdSide": hold,
                }
                if client_id:
                    body["clientOid"] = f"{client_id}-{suffix}"
                data = self.client.privateMixPostV2MixOrderPlaceTpslOrder(body).get("data")
                placed.append(Order(
                    id=text(data, "orderId", "mix/order/place-tpsl-order"), symbol=symbol,
                    side=side.close_order_side, type=kind, status=OrderStatus.NEW, qty=None,
                    trigger_price=Decimal(body["triggerPrice"]), reduce_only=True, close_position=True,
                    client_id=data.get("clientOid") or body.get("clientOid"), position_side=side,
                ))
            return placed

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        """Flash-close one position at market (close-positions); Bitget's endpoint takes no client id."""
        with self._op("close_position"):
            native = self._native(symbol)
            size = dec(self._held(native, side), "total", "mix/position")
            reply = self.client.privateMixPostV2MixOrderClosePositions(
                {"symbol": native, "productType": PRODUCT_TYPE, "holdSide": side.value}
            )
            done = self._outcome(reply, "mix/order/close-positions")
            if not done:
                raise self._fail(NotFoundError, f"close-positions closed nothing for {symbol} {side.value}")
            return closing_order(text(done[0], "orderId", "close-positions"), symbol, side, size)

    def close_all_positions(self, symbol: str | None = None) -> list[Order]:
        """Flash-close every position (of one symbol, or all) in one call; return one Order per position read."""
        with self._op("close_all_positions"):
            native = self._native(symbol) if symbol else None
            held = [self._position(r) for r in self._position_rows(native)]
            if not held:
                return []
            body = {"productType": PRODUCT_TYPE, **({"symbol": native} if native else {})}
            done = self._outcome(self.client.privateMixPostV2MixOrderClosePositions(body), "close-positions")
            ids: dict[str, list[str]] = {}
            for item in done:  # the reply names symbols, not sides: hand each position the next id for its symbol
                ids.setdefault(text(item, "symbol", "close-positions"), []).append(text(item, "orderId", "close"))
            orders = []
            for p in held:
                left = ids.get(self._native(p.symbol)) or []
                if not left:
                    raise self._fail(ExchangeError, f"close-positions did not report closing {p.symbol} {p.side}")
                orders.append(closing_order(left.pop(0), p.symbol, p.side, p.size))
            return orders

    def _held(self, native: str, side: PositionSide) -> dict[str, Any]:
        found = [r for r in self._position_rows(native) if r.get("holdSide") == side.value]
        if not found:
            raise self._fail(NotFoundError, f"no {side.value} position on {native}")
        return found[0]

    def _cancel_one(self, item: OpenOrder) -> None:
        native = self._native(item.order.symbol)
        base = {"symbol": native, "productType": PRODUCT_TYPE}
        if item.kind == "normal":
            self.client.privateMixPostV2MixOrderCancelOrder({**base, "orderId": item.order.id})
            return
        reply = self.client.privateMixPostV2MixOrderCancelPlanOrder(
            {**base, "planType": item.plan_type, "orderIdList": [{"orderId": item.order.id}]}
        )
        self._outcome(reply, "mix/order/cancel-plan-order")

    def _cancel_symbol(self, symbol: str, listed: list[OpenOrder]) -> list[str]:
        base = {"symbol": self._native(symbol), "productType": PRODUCT_TYPE}
        kinds = {o.kind for o in listed}
        calls: list[tuple[str, Callable[[], Any]]] = []
        if "normal" in kinds:
            calls.append(("batch-cancel-orders", lambda: self.client.privateMixPostV2MixOrderBatchCancelOrders(base)))
        for plan_list in (p for p in PLAN_LISTS if p in kinds):
            calls.append((f"cancel-plan-order {plan_list}", partial(
                self.client.privateMixPostV2MixOrderCancelPlanOrder, {**base, "planType": plan_list})))
        cancelled: list[str] = []
        for where, call in calls:
            try:
                with self._op("cancel_all_orders"):
                    done = self._outcome(call(), where)
            except NotFoundError as exc:  # filled or cancelled since we listed it: nothing left of this kind
                log.info("%s %s: nothing left to cancel (%s)", self.account, where, exc)
                continue
            cancelled += [text(r, "orderId", where) for r in done]
        return cancelled

    def _outcome(self, reply: Any, where: str) -> list[dict[str, Any]]:
        """Return a successList; raise for any failureList entry (Bitget answers code 00000 regardless)."""
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{where}: field 'data' is not an object")
        failed = rows(data, "failureList", where, null_is_empty=True)
        if failed:
            code = str(failed[0].get("errorCode") or "") or None
            detail = "; ".join(f"{f.get('symbol') or ''} {f.get('orderId') or ''}: {f.get('errorMsg')}" for f in failed)
            message = f"{where} failed for {len(failed)}: {detail}"
            raise self._fail(self._kind_for_code(code, ExchangeError), message, code)
        return rows(data, "successList", where, null_is_empty=True)
