"""Feature: the candle store, the signal scanner, the Signals page and auto-trading (issue 5).

Provides ``runtime.feature(CandleStore)`` (``riskmgr.candles.store``) and ``runtime.feature(Scanner)``
(``riskmgr.scanner.core``) and a scan job every SIGNAL_SECONDS. The Signals page and API are ``riskmgr.web.signals``;
the ``flask data fetch`` / ``flask signals scan`` commands are ``riskmgr.app.cli.signals``.

Settings (environment, read once at start):

- SIGNAL_SECONDS: seconds between scheduled scans, 10–3600, default 60.
- SIGNAL_SOURCE: market data scanned: simulated (default), binanceusdm, bitget or bitunix (public data, no keys).
- SIGNAL_TIMEFRAME: bar size of the scan, one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d (default 15m; the trend
  uses bars four times as long); it must be one the source serves.
- AUTO_TRADE_PAPER: auto-trading on paper accounts, default true.
- AUTO_TRADE_LIVE: auto-trading on live accounts, default false.
- AUTO_TRADE_ACCOUNTS: comma-separated account names; when given, only these accounts may auto-trade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from riskmgr.candles.sources import build_sources
from riskmgr.candles.store import CandleStore
from riskmgr.core.env import read_bool, read_choice, read_int, read_names
from riskmgr.core.errors import ConfigError
from riskmgr.core.feature import Feature, Job
from riskmgr.market.base import TIMEFRAME_SECONDS
from riskmgr.scanner.core import Scanner

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

NAME = "scanner"
SOURCE_NAMES = ("simulated", "binanceusdm", "bitget", "bitunix")

__all__ = ["FEATURE", "ScannerSettings", "install", "jobs", "settings_from_env"]


@dataclass(frozen=True)
class ScannerSettings:
    """The scanner's own settings (see the module docstring for ranges and defaults)."""

    signal_seconds: int = 60
    source: str = "simulated"
    timeframe: str = "15m"
    auto_trade_paper: bool = True
    auto_trade_live: bool = False
    auto_trade_accounts: tuple[str, ...] = ()


def settings_from_env(env: Mapping[str, str]) -> ScannerSettings:
    """Read and validate the scanner's variables; raise ConfigError naming the variable, value and range."""
    return ScannerSettings(
        signal_seconds=read_int(env, "SIGNAL_SECONDS", 60, 10, 3600),
        source=read_choice(env, "SIGNAL_SOURCE", "simulated", SOURCE_NAMES),
        timeframe=read_choice(env, "SIGNAL_TIMEFRAME", "15m", tuple(TIMEFRAME_SECONDS)),
        auto_trade_paper=read_bool(env, "AUTO_TRADE_PAPER", True),
        auto_trade_live=read_bool(env, "AUTO_TRADE_LIVE", False),
        auto_trade_accounts=read_names(env, "AUTO_TRADE_ACCOUNTS", ""),
    )


def install(runtime: Runtime) -> tuple[CandleStore, Scanner]:
    """Build the candle store and the scanner (no network here) and check the settings against the accounts."""
    settings: ScannerSettings = runtime.settings.feature(NAME)
    sources = runtime.settings.extra.get("candle_sources")
    if sources is None:
        sources = build_sources(runtime.clock, runtime.settings.fetch_timeout_seconds)
    store = CandleStore(runtime.engine, runtime.clock, runtime.market, sources)
    served = store.timeframes(settings.source)
    if settings.timeframe not in served:
        raise ConfigError(f"SIGNAL_TIMEFRAME={settings.timeframe!r} is not served by SIGNAL_SOURCE="
                          f"{settings.source!r}; allowed {', '.join(served)}")
    unknown = [name for name in settings.auto_trade_accounts if name not in runtime.accounts]
    if unknown:
        raise ConfigError(f"AUTO_TRADE_ACCOUNTS names {unknown[0]!r}, which is not a configured account; "
                          f"configured: {', '.join(runtime.accounts) or 'none'}")
    return store, Scanner(runtime, store, settings)


def jobs(runtime: Runtime) -> list[Job]:
    """Return the scan job, every SIGNAL_SECONDS."""

    def scan_job() -> None:
        """Run one scheduled scan (auto-trading acts on it)."""
        runtime.feature(Scanner).scan(trigger="schedule", auto_trade=True)

    return [("signal-scan", runtime.settings.feature(NAME).signal_seconds, scan_job)]


FEATURE = Feature(name=NAME, install=install, provides=(CandleStore, Scanner), jobs=jobs,
                  settings_from_env=settings_from_env)
