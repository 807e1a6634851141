"""Bitunix USDT-M futures: host, endpoint paths, error codes and status maps.

Facts come from the official docs (openapidoc.bitunix.com) and the official SDK (BitunixOfficial/open-api);
see /work/shared/docs/exchanges.md section 1. Anything inferred rather than documented says so.
"""

from __future__ import annotations

from decimal import Decimal

from riskmgr.core.domain import MarginMode, OrderStatus, OrderType, PositionSide
from riskmgr.core.errors import (
    AuthError,
    DuplicateClientIdError,
    ExchangeError,
    InsufficientFundsError,
    InvalidOrderError,
    NotFoundError,
    RateLimitError,
    TemporaryError,
)

BASE_URL = "https://fapi.bitunix.com"
MARGIN_COIN = "USDT"
QUOTE_CURRENCIES = ("USDT",)  # riskmgr trades USDT-margined linear perpetuals only
LANGUAGE = "en-US"

# -- endpoint paths ---------------------------------------------------------------------------------------
ACCOUNT = "/api/v1/futures/account"
CHANGE_LEVERAGE = "/api/v1/futures/account/change_leverage"
CHANGE_MARGIN_MODE = "/api/v1/futures/account/change_margin_mode"
PENDING_POSITIONS = "/api/v1/futures/position/get_pending_positions"
POSITION_TIERS = "/api/v1/futures/position/get_position_tiers"  # official SDK: FuturesPath.GET_POSITION_TIERS
PLACE_ORDER = "/api/v1/futures/trade/place_order"
CANCEL_ORDERS = "/api/v1/futures/trade/cancel_orders"
CANCEL_ALL_ORDERS = "/api/v1/futures/trade/cancel_all_orders"
FLASH_CLOSE_POSITION = "/api/v1/futures/trade/flash_close_position"
CLOSE_ALL_POSITION = "/api/v1/futures/trade/close_all_position"
PENDING_ORDERS = "/api/v1/futures/trade/get_pending_orders"
TPSL_POSITION_PLACE = "/api/v1/futures/tpsl/position/place_order"
TPSL_POSITION_MODIFY = "/api/v1/futures/tpsl/position/modify_order"
TPSL_CANCEL = "/api/v1/futures/tpsl/cancel_order"
TPSL_PENDING = "/api/v1/futures/tpsl/get_pending_orders"
KLINE = "/api/v1/futures/market/kline"
TICKERS = "/api/v1/futures/market/tickers"
TRADING_PAIRS = "/api/v1/futures/market/trading_pairs"

# -- paging and batching ----------------------------------------------------------------------------------
PAGE_LIMIT = 100  # get_pending_orders and tpsl/get_pending_orders: maximum 100 rows per page
MAX_PAGES = 50  # 5,000 open orders is far beyond any sane account; more means a paging fault
KLINE_LIMIT = 200  # kline: default 100, maximum 200 bars per request
CANCEL_BATCH = 20  # cancel_orders has no documented maximum; 20 is batch_order's documented one

# No min-notional field exists in trading_pairs; riskmgr's own floor is 5 USDT (ARCHITECTURE.md defaults).
DEFAULT_MIN_NOTIONAL = Decimal(5)

# Position-level TP/SL trigger on the mark price: last-price wicks must not flatten a position.
STOP_TRIGGER_TYPE = "MARK_PRICE"

# The kline and ticker docs describe quoteVol as "trading volume of the coin", and the kline example
# (price 60000, quoteVol "1", baseVol "60000") agrees: the names look swapped. [UNVERIFIED against live data]
BASE_VOLUME_FIELD = "quoteVol"
QUOTE_VOLUME_FIELD = "baseVol"

# -- intervals: riskmgr timeframe -> Bitunix interval (1M is left out: months have no fixed length) --------
INTERVALS: dict[str, tuple[str, int]] = {
    "1m": ("1m", 60), "5m": ("5m", 300), "15m": ("15m", 900), "30m": ("30m", 1800),
    "1h": ("1h", 3600), "2h": ("2h", 7200), "4h": ("4h", 14400), "6h": ("6h", 21600),
    "8h": ("8h", 28800), "12h": ("12h", 43200), "1d": ("1d", 86400), "3d": ("3d", 259200),
    "1w": ("1w", 604800),
}

# -- status maps ------------------------------------------------------------------------------------------
# Docs list LONG/SHORT; live replies have been seen with BUY/SELL [OBS].
POSITION_SIDES: dict[str, PositionSide] = {
    "LONG": PositionSide.LONG, "BUY": PositionSide.LONG,
    "SHORT": PositionSide.SHORT, "SELL": PositionSide.SHORT,
}
MARGIN_MODES: dict[str, MarginMode] = {"ISOLATION": MarginMode.ISOLATED, "CROSS": MarginMode.CROSS}
MARGIN_MODE_NAMES: dict[MarginMode, str] = {MarginMode.ISOLATED: "ISOLATION", MarginMode.CROSS: "CROSS"}
ORDER_STATUSES: dict[str, OrderStatus] = {
    "INIT": OrderStatus.NEW,  # "prepare status": accepted, not yet on the book
    "NEW": OrderStatus.NEW,
    "PART_FILLED": OrderStatus.PARTIALLY_FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "FILLED": OrderStatus.FILLED,
}
ORDER_TYPES: dict[str, OrderType] = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET}
POSITION_MODES = ("ONE_WAY", "HEDGE")

# One Bitunix TP/SL row can carry a stop-loss leg and a take-profit leg under a single id; riskmgr shows
# each leg as its own Order with id "<row id>:sl" / "<row id>:tp". Cancelling a leg cancels the row.
TPSL_LEG_SEPARATOR = ":"
TPSL_LEGS = ("sl", "tp")
# leg -> (trigger price, quantity, order type, limit price, riskmgr order type)
TPSL_FIELDS: dict[str, tuple[str, str, str, str, OrderType]] = {
    "sl": ("slPrice", "slQty", "slOrderType", "slOrderPrice", OrderType.STOP_MARKET),
    "tp": ("tpPrice", "tpQty", "tpOrderType", "tpOrderPrice", OrderType.TAKE_PROFIT_MARKET),
}

# -- error codes (Demo/Python/error_codes.py) -> riskmgr exception class -----------------------------------
ERROR_CLASSES: dict[int, type[ExchangeError]] = {
    10001: TemporaryError,  # network error
    10002: InvalidOrderError,  # parameter error: the request itself is wrong, do not retry unchanged
    10003: AuthError,  # api-key is empty
    10004: AuthError,  # IP not in the whitelist
    10005: RateLimitError,  # too many requests
    10006: RateLimitError,  # requests too frequent
    10007: AuthError,  # signature error
    10008: InvalidOrderError,  # value does not follow the rule
    10013: NotFoundError,  # "Order status error" in cancel failure lists: the order is no longer open
    20003: InsufficientFundsError,  # insufficient balance
    20007: NotFoundError,  # order not found
    20008: InsufficientFundsError,  # insufficient amount
    20011: AuthError,  # account not allowed
    20012: AuthError,  # futures not allowed for this account
    20015: AuthError,  # futures not supported for this account
    30004: NotFoundError,  # position does not exist
    30018: NotFoundError,  # reduce-only but no position: the position is gone, re-read before acting
    30040: AuthError,  # futures trading prohibited
    30042: DuplicateClientIdError,  # client id duplicate
}


def error_class_for(code: int) -> type[ExchangeError]:
    """Return the riskmgr exception class for a Bitunix error code."""
    if code in ERROR_CLASSES:
        return ERROR_CLASSES[code]
    if 20000 <= code < 40000:
        # 2xxxx/3xxxx are order and position rule violations (limits, prices, quantities).
        return InvalidOrderError
    return ExchangeError
