"""Orders on the real paper venue for gate tests: injected venue latency, a resting buy every rule allows, the
position slots the venue holds, and callers racing each other from threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from riskmgr.core.domain import OrderRequest, OrderSide, OrderType

D = Decimal
T = TypeVar("T")


def lag(adapter: Any, seconds: float, methods: tuple[str, ...] = ("place_order", "fetch_positions",
                                                                  "fetch_open_orders")) -> None:
    """Make the venue answer ``seconds`` late on ``methods`` (the injected latency of a slow exchange)."""
    for name in methods:
        original: Callable[..., Any] = getattr(adapter, name)

        def slow(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            time.sleep(seconds)
            return _original(*args, **kwargs)

        setattr(adapter, name, slow)


def resting_buy(runtime: Any, symbol: str, notional: str = "100", below: str = "0.9") -> OrderRequest:
    """A limit buy ``below`` the mark (it rests), 3 % stop, 9 % target, 3x: every rule allows it on its own."""
    mark = runtime.accounts["paper"].fetch_tickers()[symbol].mark
    price = mark * D(below)
    qty = D(notional) / price
    return OrderRequest(symbol, OrderSide.BUY, OrderType.LIMIT, qty, price=price, leverage=3,
                        stop_loss=price * D("0.97"), take_profit=price * D("1.09"))


def open_entry_slots(runtime: Any) -> set[tuple[str, str]]:
    """Return the (symbol, side) slots the paper venue holds: positions and resting entry orders."""
    paper = runtime.specs.adapter("paper")
    held = {(p.symbol, p.side.value) for p in paper.fetch_positions()}
    resting = {(o.symbol, "long" if o.side is OrderSide.BUY else "short") for o in paper.fetch_open_orders()
               if not o.reduce_only and not o.is_protective}
    return held | resting


def race(n: int, call: Callable[[int], T]) -> list[T | None]:
    """Run ``call(i)`` for every i below ``n``, each in its own thread, all released at once; return the results."""
    barrier = threading.Barrier(n)
    out: list[T | None] = [None] * n

    def go(i: int) -> None:
        barrier.wait()
        out[i] = call(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out
