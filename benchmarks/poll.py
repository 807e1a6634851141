"""Benchmark the poll cycle: accounts read at the same time, and the poll hooks' cost with many positions.

Every venue call of the fake accounts sleeps 100 ms, as a distant venue would answer. Two kinds of venue:
"live-like" takes an account's three reads (balance, positions, open orders) at the same time
(``concurrent_reads``), "paper-like" reads them one after another (the paper exchange does: each read is a locked
transaction). The runtime is the real one (``create_app``, SQLite in a temporary folder, the features' hooks).

Targets (exit 1 with "TARGET MISSED: ..." when one is missed):
1. Scaling: N = 64 accounts within 1.5x the cycle time of N = 1, for both kinds of venue (cycles of N = 1, 4, 16,
   64 run interleaved, round after round; medians of 3 rounds). The curve prints accounts -> cycle time and the
   cost per account, which must not grow with N. A live-like account also reads faster than a paper-like one
   (its three reads overlap): the ratio is printed as the speed-up over the sequential reading of one account.
2. Hooks: 4 accounts x 200 positions (every one with its stop-loss resting), cycles without the hooks (A) and with
   the risk engine, watchdog, alerts and paper notices (B) interleaved, 5 pairs after one warm-up cycle of each:
   median(B) - median(A) < 100 ms.
Both sides must read the same figures (checked: same balances, positions and orders per account).

Run: .venv/bin/python benchmarks/poll.py
"""

from __future__ import annotations

import itertools
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.watchdog import ProtectionWatchdog
from riskmgr.app import features
from riskmgr.app.config import Settings
from riskmgr.core.clock import SystemClock
from riskmgr.core.domain import (
    Balance,
    Candle,
    MarginMode,
    MarketSpec,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Ticker,
)
from riskmgr.core.errors import NotSupportedError
from riskmgr.exchanges.base import ExchangeAdapter
from riskmgr.persistence.extensions import db

LATENCY_S = 0.1
SIZES = (1, 4, 16, 64)
ROUNDS = 3
HOOK_PAIRS = 5
HOOK_ACCOUNTS, HOOK_POSITIONS = 4, 200
TARGET_SCALE, TARGET_HOOKS_S = 1.5, 0.100


class LatencyVenue(ExchangeAdapter):
    """A read-only account whose every call takes ``LATENCY_S``; its positions each have a full-size stop."""

    exchange = "bench"
    mode = "live"

    def __init__(self, account: str, positions: int, concurrent: bool):
        super().__init__(account)
        self.concurrent_reads = concurrent
        e = Decimal(10000)
        self._balance = Balance("USDT", wallet=e, equity=e, available=e, margin_used=Decimal(0),
                                unrealized_pnl=Decimal(0))
        self._positions = [_position(i) for i in range(positions)]
        self._orders = [_stop(account, p, i) for i, p in enumerate(self._positions)]

    def fetch_balance(self) -> Balance:
        time.sleep(LATENCY_S)
        return self._balance

    def fetch_positions(self) -> list[Position]:
        time.sleep(LATENCY_S)
        return list(self._positions)

    def fetch_open_orders(self) -> list[Order]:
        time.sleep(LATENCY_S)
        return list(self._orders)

    def fetch_markets(self) -> dict[str, MarketSpec]:
        return {p.symbol: MarketSpec(p.symbol, p.symbol.split("/")[0], "USDT", Decimal("0.001"), Decimal("0.001"),
                                     Decimal("0.01"), Decimal(5), 50, maintenance_margin_rate=Decimal("0.005"))
                for p in self._positions}

    def fetch_tickers(self) -> dict[str, Ticker]:
        raise NotSupportedError("bench venue has no tickers")

    def fetch_candles(self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = 500
                      ) -> list[Candle]:
        raise NotSupportedError("bench venue has no candles")

    def place_order(self, request: Any) -> Order:
        raise NotSupportedError("read-only bench venue")

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        raise NotSupportedError("read-only bench venue")

    def cancel_order(self, symbol: str, order_id: str) -> None:
        raise NotSupportedError("read-only bench venue")

    def cancel_all_orders(self, symbol: str | None = None, *, include_protective: bool = True) -> list[str]:
        raise NotSupportedError("read-only bench venue")

    def close_position(self, symbol: str, side: PositionSide, client_id: str | None = None) -> Order:
        raise NotSupportedError("read-only bench venue")

    def set_leverage(self, symbol: str, leverage: int) -> None:
        raise NotSupportedError("read-only bench venue")


def _position(i: int) -> Position:
    side = PositionSide.LONG if i % 2 == 0 else PositionSide.SHORT
    entry = Decimal(100 + i)
    return Position(symbol=f"C{i:03d}/USDT:USDT", side=side, size=Decimal(1), entry_price=entry, mark_price=entry,
                    leverage=Decimal(2), margin_mode=MarginMode.ISOLATED, liquidation_price=None,
                    unrealized_pnl=Decimal(0))


def _stop(account: str, position: Position, i: int) -> Order:
    price = position.entry_price * (Decimal("0.95") if position.side is PositionSide.LONG else Decimal("1.05"))
    return Order(id=f"{account}-sl-{i}", client_id=None, symbol=position.symbol, side=position.side.close_order_side,
                 type=OrderType.STOP_MARKET, status=OrderStatus.NEW, qty=position.size, price=None,
                 trigger_price=price, reduce_only=True, position_side=position.side)


def build(folder: Path, accounts: int, positions: int, concurrent: bool) -> Any:
    """Return a Flask app over ``accounts`` bench venues in a fresh SQLite file."""
    venues = {f"acct{i:02d}": LatencyVenue(f"acct{i:02d}", positions, concurrent) for i in range(accounts)}
    settings = Settings(
        database_url=f"sqlite:///{folder / 'riskmgr.db'}", instance_path=folder / "instance", secret_key="bench-only",  # noqa: S106 (a throwaway key for a throwaway app)
        scheduler_enabled=False, paper_accounts=(), extra={"clock": SystemClock(), "adapters": venues},
    )
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    return app


def timed_cycle(app: Any, hooks: list) -> tuple[float, list]:
    """Run one poll cycle; return its seconds and what it read (figures only, no times)."""
    with app.app_context():
        started = time.perf_counter()
        snaps = poll_cycle(app.extensions["riskmgr"], hooks)
        seconds = time.perf_counter() - started
    failed = [s.account for s in snaps if s.status.value != "ok"]
    if failed:
        raise SystemExit(f"benchmark broken: reads failed on {failed}")
    return seconds, [(s.account, s.balance, s.positions, s.orders) for s in snaps]


def scaling(folder: Path) -> tuple[dict[tuple[str, int], float], bool]:
    """Time cycles of every size and kind, interleaved round after round; return medians and same-figures."""
    kinds = {"live-like": True, "paper-like": False}
    apps = {(kind, n): build(folder / f"{kind}-{n}", n, 2, concurrent)
            for kind, concurrent in kinds.items() for n in SIZES}
    hooks = features.poll_hooks()
    for app in apps.values():
        timed_cycle(app, hooks)  # warm-up: first rows, first connections
    times: dict[tuple[str, int], list[float]] = {key: [] for key in apps}
    same = True
    for _ in range(ROUNDS):
        for n in SIZES:
            (live, live_read), (paper, paper_read) = (timed_cycle(apps[(k, n)], hooks) for k in kinds)
            times[("live-like", n)].append(live)
            times[("paper-like", n)].append(paper)
            same = same and live_read == paper_read
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    return {key: statistics.median(v) for key, v in times.items()}, same


def hooks_cost(folder: Path) -> tuple[float, float, bool, dict[str, int]]:
    """Return median cycle seconds without and with the hooks (interleaved), same-figures, watchdog counts."""
    app = build(folder / "hooks", HOOK_ACCOUNTS, HOOK_POSITIONS, True)
    hooks = features.poll_hooks()
    timed_cycle(app, [])
    timed_cycle(app, hooks)
    without, with_hooks, same = [], [], True
    for _ in range(HOOK_PAIRS):
        a, read_a = timed_cycle(app, [])
        b, read_b = timed_cycle(app, hooks)
        without.append(a)
        with_hooks.append(b)
        same = same and read_a == read_b
    with app.app_context():
        counts = app.extensions["riskmgr"].feature(ProtectionWatchdog).counts()
        db.engine.dispose()
    return statistics.median(without), statistics.median(with_hooks), same, counts


def main() -> int:
    logging.disable(logging.CRITICAL)
    missed: list[str] = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        medians, same = scaling(folder)
        print(f"poll cycle, {LATENCY_S * 1000:.0f} ms per venue call, 2 positions per account, every hook on; "
              f"medians of {ROUNDS} interleaved rounds")
        print(f"  {'accounts':>8} | {'live-like cycle':>15} {'per account':>11} {'vs N=1':>6} | "
              f"{'paper-like cycle':>16} {'per account':>11} {'vs N=1':>6} | live speed-up")
        for n in SIZES:
            live, paper = medians[("live-like", n)], medians[("paper-like", n)]
            print(f"  {n:>8} | {live * 1000:>12.0f} ms {live * 1000 / n:>8.1f} ms "
                  f"{live / medians[('live-like', 1)]:>5.2f}x | {paper * 1000:>13.0f} ms {paper * 1000 / n:>8.1f} ms "
                  f"{paper / medians[('paper-like', 1)]:>5.2f}x | {paper / live:.2f}x")
        for kind in ("live-like", "paper-like"):
            ratio = medians[(kind, 64)] / medians[(kind, 1)]
            print(f"  target {kind}: N=64 within {TARGET_SCALE}x of N=1: {ratio:.2f}x "
                  f"{'met' if ratio <= TARGET_SCALE else 'MISSED'}")
            if ratio > TARGET_SCALE:
                missed.append(f"{kind} N=64 is {ratio:.2f}x N=1 (target <= {TARGET_SCALE}x)")
            per = [medians[(kind, n)] / n for n in SIZES]
            if any(b > a * 1.05 for a, b in itertools.pairwise(per)):
                missed.append(f"{kind} cost per account grows with N: {[round(p * 1000, 1) for p in per]} ms")
        if not same:
            missed.append("live-like and paper-like venues read different figures")
        without, with_hooks, same_hooks, counts = hooks_cost(folder)
        added = with_hooks - without
        print(f"hooks: {HOOK_ACCOUNTS} accounts x {HOOK_POSITIONS} positions (each with its stop resting); "
              f"medians of {HOOK_PAIRS} interleaved pairs")
        print(f"  cycle without hooks (A) {without * 1000:.0f} ms, with hooks (B) {with_hooks * 1000:.0f} ms, "
              f"hooks add {added * 1000:.0f} ms (target < {TARGET_HOOKS_S * 1000:.0f} ms: "
              f"{'met' if added < TARGET_HOOKS_S else 'MISSED'}); ratio B/A {with_hooks / without:.2f}x")
        print(f"  same figures read by A and B: {same_hooks}; watchdog counts {counts}")
        if added >= TARGET_HOOKS_S:
            missed.append(f"the hooks add {added * 1000:.0f} ms (target < {TARGET_HOOKS_S * 1000:.0f} ms)")
        if not same_hooks or counts["detected"] or counts["placed"]:
            missed.append("the hooks cycles read different figures or the watchdog saw a missing stop")
    for m in missed:
        print(f"TARGET MISSED: {m}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
