"""Builders for risk tests: a BTC market, positions, intents and rule contexts with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from riskmgr.core.domain import AccountStatus, MarginMode, MarketSpec, Position, PositionSide, TradingState
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import OrderIntent, RuleContext, build_context
from riskmgr.risk.costs import TradingCosts

D = Decimal
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)

BTC = MarketSpec(
    symbol="BTC/USDT:USDT",
    base="BTC",
    quote="USDT",
    min_qty=D("0.001"),
    qty_step=D("0.001"),
    price_tick=D("0.1"),
    min_notional=D(5),
    max_leverage=100,
    maintenance_margin_rate=D("0.005"),
)

# no fees and no slippage: rule tests read plain price arithmetic unless they pass costs (see test_costs.py)
NO_COSTS = TradingCosts(D(0), D(0), "none (test)", "none (test)")
# the paper venue's defaults: taker fee 0.05 %, slippage 2 bps, fills rounded to the 0.1 tick
PAPER_COSTS = TradingCosts(D("0.0005"), D("0.0002"), "paper venue setting", "paper venue setting", D("0.1"))


def position(
    symbol: str = "BTC/USDT:USDT",
    side: PositionSide = PositionSide.LONG,
    size: str = "0.01",
    entry: str = "60000",
    mark: str | None = None,
) -> Position:
    """Return an open isolated position (mark defaults to entry)."""
    return Position(
        symbol=symbol,
        side=side,
        size=D(size),
        entry_price=D(entry),
        mark_price=D(mark if mark is not None else entry),
        leverage=D(3),
        margin_mode=MarginMode.ISOLATED,
        liquidation_price=None,
        unrealized_pnl=D(0),
    )


def intent(**changes: Any) -> OrderIntent:
    """Return a BTC long at 60000 with a 1.5 % stop (59100), a 3 % target (61800) and 3x leverage."""
    fields: dict[str, Any] = {
        "symbol": "BTC/USDT:USDT",
        "side": PositionSide.LONG,
        "entry_price": D(60000),
        "stop_loss": D(59100),
        "take_profit": D(61800),
        "qty": None,
        "leverage": 3,
        "reduce_only": False,
    }
    fields.update(changes)
    return OrderIntent(**fields)


def context(**changes: Any) -> RuleContext:
    """Return a context for ``intent()`` on a healthy 10000 USDT account with nothing open, read 2 s ago."""
    fields: dict[str, Any] = {
        "now": NOW,
        "limits": RiskLimits(),
        "intent": intent(),
        "spec": BTC,
        "equity": D(10000),
        "available": D(10000),
        "day_start_equity": D(10000),
        "peak_equity": D(10000),
        "positions": (),
        "account_status": AccountStatus.OK,
        "fetched_at": NOW - timedelta(seconds=2),
        "recent_trades": (),
        "trading_state": TradingState.ACTIVE,
        "costs": NO_COSTS,
    }
    fields.update(changes)
    return build_context(**fields)
