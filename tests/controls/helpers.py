"""Real paper positions on the simulated market for the position-control tests."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import OrderRequest, OrderType, Position, PositionSide
from riskmgr.risk.protection import find_protection

BTC = "BTC/USDT:USDT"
D = Decimal


def open_position(runtime, side: PositionSide = PositionSide.LONG, qty: str = "0.003", symbol: str = BTC,
                  stop_pct: str = "3", target_pct: str = "6", intent: str = "open-1") -> Position:
    """Open a market position through the gate with a stop ``stop_pct`` % and a target ``target_pct`` % away."""
    poll_cycle(runtime)
    mark = runtime.accounts["paper"].fetch_tickers()[symbol].mark
    sign = side.sign
    request = OrderRequest(symbol, side.entry_order_side, OrderType.MARKET, D(qty), leverage=3,
                           stop_loss=mark * (1 - sign * D(stop_pct) / 100),
                           take_profit=mark * (1 + sign * D(target_pct) / 100))
    result = runtime.gateway.submit("paper", request, actor="test", intent_id=intent)
    assert result.accepted and result.protection is not None and result.protection.accepted, result
    poll_cycle(runtime)
    return position(runtime, symbol, side)


def position(runtime, symbol: str = BTC, side: PositionSide = PositionSide.LONG) -> Position | None:
    return next((p for p in runtime.accounts["paper"].fetch_positions() if p.symbol == symbol and p.side is side),
                None)


def stops(runtime, symbol: str = BTC) -> list:
    """Return the open stop-loss orders on ``symbol``."""
    return [o for o in runtime.accounts["paper"].fetch_open_orders() if o.symbol == symbol and o.is_stop_loss]


def protection(runtime, symbol: str = BTC, side: PositionSide = PositionSide.LONG):
    p = position(runtime, symbol, side)
    return find_protection(p, runtime.accounts["paper"].fetch_open_orders())


def advance_until_profit(runtime, clock, side: PositionSide, pct: str = "0.4", symbol: str = BTC,
                         limit_minutes: int = 6 * 60) -> Position:
    """Move the fixed clock a minute at a time until the position is ``pct`` % in profit (fails after the limit)."""
    for _ in range(limit_minutes):
        p = position(runtime, symbol, side)
        assert p is not None, "the position closed while waiting for a profit (its stop or target fired)"
        if p.pnl_pct >= D(pct):
            poll_cycle(runtime)
            return position(runtime, symbol, side)
        clock.advance(minutes=1)
    raise AssertionError(f"no {pct} % profit within {limit_minutes} minutes of the simulated market")
