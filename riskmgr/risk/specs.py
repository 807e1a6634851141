"""Contract specs per account, read once from the venue and kept, and rounding to them.

Shared by the order gateway (which rounds every order) and the pre-trade check (which judges the rounded order),
so both see the same market and neither needs the other to exist first.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from riskmgr.core.domain import MarketSpec, OrderRequest, OrderSide, PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.risk.sizing import round_down_to_step, round_levels, round_to_tick


class SpecCache:
    """The contract specs of every account's venue (cached), the maintenance rate, and order rounding."""

    def __init__(self, adapters: Mapping[str, ExchangeAdapter]):
        self._adapters = adapters
        self._specs: dict[str, dict[str, MarketSpec]] = {}
        self._lock = threading.Lock()

    def adapter(self, account: str) -> ExchangeAdapter:
        """Return the adapter of ``account``; a ValidationError naming it when there is none."""
        try:
            return self._adapters[account]
        except KeyError:
            raise ValidationError("account", f"{account!r} is not a configured account") from None

    def spec(self, account: str, symbol: str) -> MarketSpec:
        """Return the contract spec of ``symbol`` on ``account``'s exchange (cached)."""
        with self._lock:
            specs = self._specs.get(account)
        if specs is None or symbol not in specs:
            specs = self.adapter(account).fetch_markets()
            with self._lock:
                self._specs[account] = specs
        if symbol not in specs:
            raise ValidationError("symbol", f"{symbol!r} is not traded on account {account!r}")
        return specs[symbol]

    def maintenance_margin_rate(self, account: str, symbol: str) -> Decimal:
        """Return the first-tier maintenance margin rate of ``symbol`` (its adapter reads it once, then keeps it)."""
        return self.adapter(account).fetch_maintenance_margin_rate(symbol)

    def rounded(self, account: str, request: OrderRequest) -> OrderRequest:
        """Round quantity down to the step and prices to the tick in the conservative direction."""
        spec = self.spec(account, request.symbol)
        tick = spec.price_tick
        buy = request.side is OrderSide.BUY
        # a buy opens a long: its stop sits below, rounded up (closer); its target rounded down (nearer)
        stop, target = round_levels(PositionSide.LONG if buy else PositionSide.SHORT, request.stop_loss,
                                    request.take_profit, tick)
        return replace(
            request,
            qty=round_down_to_step(request.qty, spec.qty_step),
            price=None if request.price is None else round_to_tick(request.price, tick, up=not buy),
            stop_loss=stop,
            take_profit=target,
        )
