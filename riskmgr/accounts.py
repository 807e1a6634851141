"""The accounts riskmgr watches: paper accounts and live exchange accounts declared in the environment.

(Live accounts are being built: for now only paper accounts are created.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskmgr.clock import Clock
from riskmgr.exchanges.base import ExchangeAdapter


@dataclass(frozen=True)
class AccountConfig:
    """One live account declared in the environment (secrets are never part of its repr)."""

    name: str
    exchange: str


def parse_accounts(env: Mapping[str, str]) -> tuple[AccountConfig, ...]:
    """Read the live accounts declared in the environment."""
    return ()


def build_adapters(settings: Any, engine: Any, market: Any, clock: Clock) -> dict[str, ExchangeAdapter]:
    """Build one adapter per configured account: the paper accounts first, then the live ones."""
    from riskmgr.exchanges.paper import PaperExchange

    return {
        name: PaperExchange(
            name,
            engine,
            market,
            clock,
            start_balance=settings.paper_start_balance,
            taker_fee=settings.paper_taker_fee,
            maker_fee=settings.paper_maker_fee,
            slippage_bps=settings.paper_slippage_bps,
        )
        for name in settings.paper_accounts
    }
