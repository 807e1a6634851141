"""Binance USDⓈ-M futures through ``ccxt.binanceusdm``.

Quirks handled here (docs/exchanges.md §3, §4):
- Stop and take-profit orders live in the Algo Order API (/fapi/v1/algoOrder, /fapi/v1/openAlgoOrders,
  /fapi/v1/algoOpenOrders); plain orders in /fapi/v1/openOrders and /fapi/v1/allOpenOrders. Both are read and
  cancelled.
- There is no close-position endpoint (ccxt raises NotSupported): a position is closed with a reduce-only
  market order for its size (hedge mode: positionSide instead, since reduceOnly is refused there).
- /fapi/v3/positionRisk lacks leverage and margin type; /fapi/v2/positionRisk (ccxt's ``useV2``) has both.
- ``fetchCurrencies: False`` keeps load_markets to the one exchangeInfo call (no signed sapi calls).
- ccxt picks its USDⓈ-M error table by host name; a custom ``base_url`` would lose it, so the client is a
  small subclass that always uses that table. ``demo=True`` switches to Binance's demo-fapi host.
- The exchange's maximum leverage is in /fapi/v1/leverageBracket, not in exchangeInfo.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt

from riskmgr.core.clock import Clock, from_ms, to_ms
from riskmgr.core.domain import (
    Balance,
    MarginMode,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import (
    InvalidOrderError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    ValidationError,
)
from riskmgr.exchanges.ccxt.adapter import CcxtAdapter, OpenOrder
from riskmgr.exchanges.ccxt.fields import dec, open_status, opt_dec, opt_time, pick, text
from riskmgr.risk.context import ClosedTrade

log = logging.getLogger(__name__)
MARGIN_ASSET = "USDT"
INCOME_PAGE, INCOME_MAX_PAGES = 1000, 20  # /fapi/v1/income answers at most 1000 rows per call
_TYPES = {
    "limit": OrderType.LIMIT, "market": OrderType.MARKET,
    "stop": OrderType.STOP_MARKET,  # stop-limit: a stop with a limit price (kept in Order.price)
    "stop_market": OrderType.STOP_MARKET, "trailing_stop_market": OrderType.STOP_MARKET,
    "take_profit": OrderType.TAKE_PROFIT_MARKET, "take_profit_market": OrderType.TAKE_PROFIT_MARKET,
}
_STATUS = {
    "new": OrderStatus.NEW, "partially_filled": OrderStatus.PARTIALLY_FILLED, "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED, "expired": OrderStatus.CANCELED, "expired_in_match": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_MARGIN_TYPES = {"cross": MarginMode.CROSS, "crossed": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}


class _UsdmClient(ccxt.binanceusdm):  # type: ignore[misc]  # ccxt ships no type information
    """binanceusdm that keeps the USDⓈ-M ("linear") error table whatever host it talks to."""

    def get_exceptions_by_url(self, url: str, exactOrBroad: str) -> dict[str, Any]:
        table: dict[str, Any] = self.safe_dict(self.safe_dict(self.exceptions, "linear", {}), exactOrBroad, {})
        return table


class BinanceUsdmAdapter(CcxtAdapter):
    """One Binance USDⓈ-M futures account (one-way mode for new orders; reads and closes handle hedge mode)."""

    exchange = "binanceusdm"
    duplicate_codes = frozenset({"-4116"})
    attaches_protection = False  # TP/SL are separate Algo orders, placed once there is a position

    def __init__(self, account: str, api_key: str, secret: str, *, base_url: str | None = None,
                 timeout_s: float = 10, markets: list[dict[str, Any]] | None = None, demo: bool = False,
                 clock: Clock | None = None):
        client = _UsdmClient({
            "apiKey": api_key, "secret": secret,
            "options": {"fetchCurrencies": False, "warnOnFetchOpenOrdersWithoutSymbol": False},
        })
        if demo:
            client.enable_demo_trading(True)
        if base_url:
            api = client.urls["api"]
            for key in [k for k in api if k.startswith("fapi")]:
                api[key] = base_url.rstrip("/") + urlsplit(api[key]).path
        self.demo = demo
        self.mode = "demo" if demo else "live"
        self._extras: dict[str, dict[str, Any]] | None = None
        super().__init__(account, client, (api_key, secret), timeout_s=timeout_s, markets=markets,
                         clock=clock)

    # -- reads ---------------------------------------------------------------------------------------
    def fetch_balance(self) -> Balance:
        """Return the USDT asset of the futures account (/fapi/v3/account)."""
        with self._op("fetch_balance"):
            where = "fapi/v3/account"
            reply = self.client.fapiPrivateV3GetAccount()
            assets = reply.get("assets") if isinstance(reply, dict) else None
            row = next((a for a in assets or [] if isinstance(a, dict) and a.get("asset") == MARGIN_ASSET), None)
            if row is None:
                raise MalformedResponseError(f"{where}: no {MARGIN_ASSET} entry in 'assets'")
            return Balance(
                currency=MARGIN_ASSET,
                wallet=dec(row, "walletBalance", where),
                equity=dec(row, "marginBalance", where),
                available=dec(row, "availableBalance", where),
                margin_used=dec(row, "initialMargin", where),
                unrealized_pnl=dec(row, "unrealizedProfit", where),
            )

    def fetch_positions(self) -> list[Position]:
        """Return every open position (/fapi/v2/positionRisk: it carries leverage and margin type)."""
        with self._op("fetch_positions"):
            return [self._position(r) for r in self._position_rows(None)]

    def _position_rows(self, native: str | None) -> list[dict[str, Any]]:
        reply = self.client.fapiPrivateV2GetPositionRisk({"symbol": native} if native else {})
        if not isinstance(reply, list):
            raise MalformedResponseError("fapi/v2/positionRisk: expected a list")
        # the endpoint lists every symbol with a position *or open orders*; flat rows have positionAmt 0
        return [r for r in reply if dec(r, "positionAmt", "fapi/v2/positionRisk") != 0]

    def _position(self, row: dict[str, Any]) -> Position:
        where = f"position {row.get('symbol')}"
        amount = dec(row, "positionAmt", where)
        liquidation = dec(row, "liquidationPrice", where)
        mode = pick(row, "marginType", where, _MARGIN_TYPES)
        return Position(
            symbol=str(self._symbol_of(text(row, "symbol", where), where)),
            side=_position_side(row, amount, where), size=abs(amount),
            entry_price=dec(row, "entryPrice", where), mark_price=dec(row, "markPrice", where),
            leverage=dec(row, "leverage", where), margin_mode=mode,
            liquidation_price=liquidation if liquidation > 0 else None,  # Binance sends 0 when there is none
            unrealized_pnl=dec(row, "unRealizedProfit", where),
            margin=dec(row, "isolatedMargin", where) if mode is MarginMode.ISOLATED else None,
        )

    def fetch_tickers(self) -> dict[str, Ticker]:
        """Return last prices (/fapi/v1/ticker/24hr) joined with mark prices (/fapi/v1/premiumIndex)."""
        with self._op("fetch_tickers"):
            stats, premium = self.client.fapiPublicGetTicker24hr(), self.client.fapiPublicGetPremiumIndex()
            if not isinstance(stats, list) or not isinstance(premium, list):
                raise MalformedResponseError("fapi/v1/ticker/24hr, premiumIndex: expected lists")
            marks = {r.get("symbol"): r for r in premium}
            self.load_markets()
            out: dict[str, Ticker] = {}
            for row in stats:
                where = f"ticker {row.get('symbol')}"
                symbol = self._symbol_of(text(row, "symbol", where), where, reload=False)
                mark = marks.get(row.get("symbol"))
                if symbol is None or mark is None:  # not one of our perpetuals, or no mark price published
                    continue
                when = min(dec(row, "closeTime", where), dec(mark, "time", where))
                out[symbol] = Ticker(
                    symbol, dec(row, "lastPrice", where), dec(mark, "markPrice", where), from_ms(int(when)),
                    volume_quote_24h=opt_dec(row, "quoteVolume", where),
                )
            return out

    def fetch_closed_trades(self, since: datetime) -> list[ClosedTrade]:
        """Return the closes since ``since``, newest first: REALIZED_PNL income less the closing fills' commission.

        The symbol is the income row's contract as the loaded markets name it (None for one outside them); the
        side stays None because income rows do not say which position side a fill closed.

        Income comes per fill; the fills of one closing order share symbol and time, so they add up to one close.
        Commission rows are matched by tradeId, so only the closing fee is deducted (the income history does not
        tie the opening fee to its close).
        """
        if since.tzinfo is None:
            raise ValidationError("since", "must be a timezone-aware UTC datetime")
        with self._op("fetch_closed_trades"):
            realized = self._income("REALIZED_PNL", since)
            fees: dict[str, Decimal] = {}
            for row in self._income("COMMISSION", since) if realized else []:
                trade = str(row.get("tradeId") or "")
                fees[trade] = fees.get(trade, Decimal(0)) + dec(row, "income", "fapi/v1/income COMMISSION")
            closes: dict[tuple[str, int], Decimal] = {}
            for row in realized:
                where = f"fapi/v1/income REALIZED_PNL {row.get('tranId')}"
                if row.get("asset") != MARGIN_ASSET:  # a USDC-margined contract is not one riskmgr trades
                    continue
                key = (text(row, "symbol", where), int(dec(row, "time", where)))
                fee = fees.get(str(row.get("tradeId") or ""), Decimal(0)) if row.get("tradeId") else Decimal(0)
                closes[key] = closes.get(key, Decimal(0)) + dec(row, "income", where) + fee
            self.load_markets()
            # no reload for an unknown id: a delisted contract stays in the history and would cost a markets
            # download per read; its P&L still counts, without a symbol (income rows carry no position side)
            trades = [ClosedTrade(from_ms(ms), pnl, self._symbol_of(native, "fapi/v1/income", reload=False))
                      for (native, ms), pnl in closes.items()]
            return sorted(trades, key=lambda t: t.closed_at, reverse=True)

    def _income(self, kind: str, since: datetime) -> list[dict[str, Any]]:
        """Return every income row of ``kind`` since ``since`` (pages follow the time; tranId removes repeats)."""
        where = f"fapi/v1/income {kind}"
        found: dict[str, dict[str, Any]] = {}
        start = to_ms(since)
        for _ in range(INCOME_MAX_PAGES):
            reply = self.client.fapiPrivateGetIncome({"incomeType": kind, "startTime": start, "limit": INCOME_PAGE})
            if not isinstance(reply, list):
                raise MalformedResponseError(f"{where}: expected a list")
            for row in reply:
                found[text(row, "tranId", where)] = row
            if len(reply) < INCOME_PAGE:
                return list(found.values())
            last = int(dec(reply[-1], "time", where))
            if last <= start:
                raise MalformedResponseError(f"{where}: a full page within one millisecond; cannot page on")
            start = last  # inclusive: rows of that millisecond come again and are deduplicated
        raise MalformedResponseError(f"{where}: more than {INCOME_PAGE * INCOME_MAX_PAGES} rows; refusing a part")

    def _market_extras(self, markets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Return max leverage and first-tier maintenance rate per symbol (brackets cached, refreshed on a gap)."""
        if self._extras is None or any(m["id"] not in self._extras for m in markets):
            self._extras = self._leverage_brackets()
        unknown = [m["symbol"] for m in markets if m["id"] not in self._extras]
        if unknown:  # without a leverage cap the market cannot be sized: leave it out rather than guess
            log.warning("%s: no leverage brackets for %s; left out of the specs", self.account, unknown)
        return {str(m["symbol"]): self._extras[m["id"]] for m in markets if m["id"] in self._extras}

    def _leverage_brackets(self) -> dict[str, dict[str, Any]]:
        where = "fapi/v1/leverageBracket"
        reply = self.client.fapiPrivateGetLeverageBracket()
        if not isinstance(reply, list):
            raise MalformedResponseError(f"{where}: expected a list")
        extras: dict[str, dict[str, Any]] = {}
        for entry in reply:
            brackets = entry.get("brackets") or []
            if not brackets:
                raise MalformedResponseError(f"{where}: no brackets for {entry.get('symbol')}")
            first = min(brackets, key=lambda b: dec(b, "notionalFloor", where))
            extras[text(entry, "symbol", where)] = {
                "max_leverage": max(dec(b, "initialLeverage", where) for b in brackets),
                "mmr": dec(first, "maintMarginRatio", where),
            }
        return extras

    def _open_orders(self, symbol: str | None) -> list[OpenOrder]:
        params = {"symbol": self._native(symbol)} if symbol is not None else {}
        regular = self.client.fapiPrivateGetOpenOrders(params)
        algo = self.client.fapiPrivateGetOpenAlgoOrders(params)
        if not isinstance(regular, list) or not isinstance(algo, list):
            raise MalformedResponseError("fapi/v1/openOrders, openAlgoOrders: expected lists")
        return [OpenOrder(self._order(r), "regular") for r in regular] + [
            OpenOrder(self._algo_order(r), "algo") for r in algo
        ]

    def _order(self, row: dict[str, Any], *, open_only: bool = True) -> Order:
        where = f"order {row.get('orderId')}"
        kind, side, closing, position_side = self._kind_side(row, "type", row.get("closePosition") is True, where)
        average = opt_dec(row, "avgPrice", where)
        status = open_status(row.get("status")) if open_only else pick(row, "status", where, _STATUS)
        return Order(
            id=text(row, "orderId", where), symbol=str(self._symbol_of(text(row, "symbol", where), where)),
            side=side, type=kind, status=status, qty=dec(row, "origQty", where),
            price=opt_dec(row, "price", where) or None, trigger_price=opt_dec(row, "stopPrice", where) or None,
            reduce_only=closing, close_position=row.get("closePosition") is True,
            client_id=row.get("clientOrderId") or None, filled_qty=dec(row, "executedQty", where),
            avg_fill_price=average or None, position_side=position_side,
            created_at=opt_time(row, "time", where) or opt_time(row, "updateTime", where),
        )

    def _algo_order(self, row: dict[str, Any]) -> Order:
        where = f"algo order {row.get('algoId')}"
        whole = row.get("closePosition") is True
        kind, side, closing, position_side = self._kind_side(row, "orderType", whole, where)
        return Order(
            id=text(row, "algoId", where), symbol=str(self._symbol_of(text(row, "symbol", where), where)),
            side=side, type=kind, status=open_status(row.get("algoStatus")),
            qty=None if whole else dec(row, "quantity", where),
            price=opt_dec(row, "price", where) or None, trigger_price=dec(row, "triggerPrice", where),
            reduce_only=closing, close_position=whole, client_id=row.get("clientAlgoId") or None,
            created_at=opt_time(row, "createTime", where), position_side=position_side,
        )

    @staticmethod
    def _kind_side(
        row: dict[str, Any], type_key: str, whole: bool, where: str
    ) -> tuple[OrderType, OrderSide, bool, PositionSide | None]:
        """Return type, side, reduces-only and the position side reduced (hedge: positionSide says it)."""
        kind, side = pick(row, type_key, where, _TYPES), pick(row, "side", where, _SIDES)
        hedged = str(row.get("positionSide", "BOTH")).upper()
        if hedged in ("LONG", "SHORT"):
            held = PositionSide(hedged.lower())
            return kind, side, side is held.close_order_side, held
        closing = whole or row.get("reduceOnly") is True
        reduced = (PositionSide.LONG if side is OrderSide.SELL else PositionSide.SHORT) if closing else None
        return kind, side, closing, reduced

    # -- writes --------------------------------------------------------------------------------------
    def _order_params(self, request: OrderRequest, market: dict[str, Any]) -> dict[str, Any]:
        if request.stop_loss is not None or request.take_profit is not None:
            raise self._fail(
                NotSupportedError, "Binance has no stop-loss/take-profit attached to an order: "
                "place the entry, then place_position_protection"
            )
        if request.margin_mode is not None:
            self.set_margin_mode(request.symbol, request.margin_mode)
        params: dict[str, Any] = {}
        if request.client_id:
            params["clientOrderId"] = request.client_id
        if request.reduce_only:
            params["reduceOnly"] = True
        return params

    def _accepted_order(self, request: OrderRequest, result: dict[str, Any]) -> Order:
        return self._order(result["info"], open_only=False)  # ccxt keeps the venue's raw reply under "info"

    def place_position_protection(self, symbol: str, side: PositionSide, *, stop_loss: Decimal | None = None,
                                  take_profit: Decimal | None = None, client_id: str | None = None) -> list[Order]:
        """Place closePosition STOP_MARKET / TAKE_PROFIT_MARKET algo orders (mark-price triggered).

        Client ids get a ``-sl`` / ``-tp`` suffix so both legs stay unique (Binance allows 36 characters).
        """
        with self._op("place_position_protection"):
            if stop_loss is None and take_profit is None:
                raise self._fail(InvalidOrderError, "stop_loss/take_profit: give at least one price")
            row = self._held(self._native(symbol), side)
            placed: list[Order] = []
            for kind, price, suffix in (
                (OrderType.STOP_MARKET, stop_loss, "sl"),
                (OrderType.TAKE_PROFIT_MARKET, take_profit, "tp"),
            ):
                if price is None:
                    continue
                params: dict[str, Any] = {"triggerPrice": float(price), "closePosition": True,
                                          "workingType": "MARK_PRICE"}
                if client_id:
                    params["clientOrderId"] = f"{client_id}-{suffix}"
                if row.get("positionSide") in ("LONG", "SHORT"):
                    params["positionSide"] = row["positionSide"]
                result = self.client.create_order(
                    symbol, kind.value.upper(), side.close_order_side.value, None, None, params
                )
                placed.append(self._algo_order(result.get("info")))
            return placed

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        """Close one position with a reduce-only market order for its whole size."""
        with self._op("close_position"):
            row = self._held(self._native(symbol), side)
            size = abs(dec(row, "positionAmt", "fapi/v2/positionRisk"))
            params: dict[str, Any] = {"clientOrderId": client_id} if client_id else {}
            if row.get("positionSide") in ("LONG", "SHORT"):
                params["positionSide"] = row["positionSide"]  # hedge mode refuses reduceOnly
            else:
                params["reduceOnly"] = True
            result = self.client.create_order(symbol, "market", side.close_order_side.value, float(size), None, params)
            return self._order(result.get("info"), open_only=False)

    def close_all_positions(self, symbol: str | None = None) -> list[Order]:
        """Close every position (of one symbol, or all), one reduce-only market order each, failures last."""
        with self._op("close_all_positions"):
            held = [self._position(r) for r in self._position_rows(self._native(symbol) if symbol else None)]
            return self._each(held, lambda p: self.close_position(p.symbol, p.side), lambda p: f"{p.symbol} {p.side}")

    def _held(self, native: str, side: PositionSide) -> dict[str, Any]:
        for row in self._position_rows(native):
            if _position_side(row, dec(row, "positionAmt", "fapi/v2/positionRisk"), "position") is side:
                return row
        raise self._fail(NotFoundError, f"no {side.value} position on {native}")

    def _cancel_one(self, item: OpenOrder) -> None:
        native = self._native(item.order.symbol)
        if item.kind == "algo":
            self.client.fapiPrivateDeleteAlgoOrder({"symbol": native, "algoId": item.order.id})
        else:
            self.client.fapiPrivateDeleteOrder({"symbol": native, "orderId": item.order.id})

    def _cancel_symbol(self, symbol: str, listed: list[OpenOrder]) -> list[str]:
        native = self._native(symbol)
        kinds = {o.kind for o in listed}
        if "regular" in kinds:
            self._check_done(self.client.fapiPrivateDeleteAllOpenOrders({"symbol": native}), "allOpenOrders")
        if "algo" in kinds:
            self._check_done(self.client.fapiPrivateDeleteAlgoOpenOrders({"symbol": native}), "algoOpenOrders")
        # Binance answers without ids: report what was open when we listed it
        return [o.order.id for o in listed]

    def _check_done(self, reply: Any, where: str) -> None:
        code = str(reply.get("code")) if isinstance(reply, dict) else None
        if code != "200":
            raise MalformedResponseError(f"fapi/v1/{where}: unexpected answer {str(reply)[:200]}")


def _position_side(row: dict[str, Any], amount: Decimal, where: str) -> PositionSide:
    hedged = text(row, "positionSide", where).upper()
    if hedged in ("LONG", "SHORT"):
        return PositionSide(hedged.lower())
    return PositionSide.LONG if amount > 0 else PositionSide.SHORT
