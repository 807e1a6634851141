"""One scan: candles of every USDT perpetual of the source -> signal rules -> quality -> filters -> history.

The rules, the quality score and the filters are the tested building blocks (``signals.scan_latest``,
``signal_quality.quality_score``, ``signal_filters.filter_signals``); this module feeds them real inputs and
keeps what they said. The confidence threshold comes from RiskLimits.min_signal_confidence, the cooldown from
RiskLimits.signal_cooldown_minutes, held symbols from the latest account snapshots, and the target is widened
when RiskLimits.min_reward_risk asks for more than the rules' 2:1. A symbol whose candles cannot be had whole
(an unrepaired gap, an exchange error) is reported with its reason and not evaluated.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from riskmgr.candles.store import CandleDataError, CandleStore
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.market.base import CandleArrays
from riskmgr.risk.config import RiskLimits
from riskmgr.scanner.auto import AutoTrader
from riskmgr.scanner.history import Recorded, SignalHistory
from riskmgr.scanner.views import failed_view, scan_view
from riskmgr.signals.conservative import Signal, SignalParams, scan_latest
from riskmgr.signals.filters import filter_signals
from riskmgr.signals.indicators import IndicatorParams
from riskmgr.signals.params import TARGET_HEADROOM
from riskmgr.signals.quality import Quality, quality_score

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
RULE = "conservative"
HISTORY_BARS = 1000  # the 200-EMA of the 1h trend needs 800+ bars of 15m; 1000 leaves room for its seeding
MIN_OUTCOMES = 5  # fewer recorded trades than this say nothing about a win rate
LOAD_WORKERS = 4  # parallel candle downloads from an exchange (its rate limits still apply per client)


class WinRates:
    """What the scanner asks another feature for: a rule's win rate on a symbol from backtests.

    An extension point: a feature providing a subclass (``Feature.provides``) is asked when too few outcomes are
    recorded; none does today, so the scanner says the win rate is unknown rather than guess one.
    """

    def signal_win_rate(self, *, source: str, symbol: str, timeframe: str) -> Decimal | float | None:
        """Return the win rate (0..1) of the rule's signals on ``symbol``, or None when there is none to tell."""
        raise NotImplementedError


@dataclass(frozen=True)
class Ranked:
    signal: Signal
    quality: Quality


def signal_params(limits: RiskLimits, timeframe: str) -> SignalParams:
    """Return the rule settings in force: defaults, the limits' confidence threshold and reward:risk."""
    base = SignalParams(indicators=IndicatorParams(timeframe=timeframe))
    wanted = float(limits.min_reward_risk)
    # the stop stays where the ATR puts it; a stricter reward:risk moves the target out, never the stop in (up to
    # the rules' own bounds: target 20 ATR, minimum 10:1; beyond them the gateway's reward:risk rule denies). The
    # target keeps TARGET_HEADROOM above the minimum, so a small move of the mark before the fill does not deny it
    target = min(max(base.target_atr, base.stop_atr * wanted * TARGET_HEADROOM), 20.0)
    return replace(base, confidence_threshold=limits.min_signal_confidence, target_atr=target,
                   min_reward_risk=min(max(base.min_reward_risk, wanted), target / base.stop_atr, 10.0))


def held_symbols(runtime: Runtime) -> set[str]:
    """Return the symbols with an open position on any account (from the latest snapshots)."""
    return {p.symbol for snap in runtime.snapshots.latest().values() for p in snap.positions}


class Scanner:
    """Runs scans over the configured source; one at a time per process."""

    def __init__(self, runtime: Runtime, store: CandleStore, settings: Any):
        self.runtime = runtime
        self.store = store
        self.settings = settings
        self.history = SignalHistory(runtime.engine, runtime.clock)
        self.auto = AutoTrader(runtime, self.history, settings)
        self._lock = threading.Lock()
        self.last_view: dict[str, Any] | None = None

    @property
    def simulated(self) -> bool:
        return self.store.is_simulated(self.settings.source)

    def scan(self, *, trigger: str = "schedule", auto_trade: bool = True) -> dict[str, Any]:
        """Run one scan, let auto-trading act on it if asked, store and return its view."""
        with self._lock:
            started = self.runtime.clock.now()
            limits = self.runtime.limits()
            try:
                candles, errors = self._load()
            except (ExchangeError, ValidationError) as exc:  # the list of symbols itself could not be read
                reason = exc.describe() if isinstance(exc, ExchangeError) else str(exc)
                view = failed_view(self, started, trigger, reason)
            else:
                view = self._evaluate(candles, errors, limits, started, trigger, auto_trade)
            self.history.expire(self.runtime.clock.now())
            self.auto.resolve_outcomes()
            self.history.save_run(started, self.settings.source, self.settings.timeframe, trigger, view)
            self.last_view = view
            return view

    def _evaluate(self, candles: dict[str, CandleArrays], errors: dict[str, str], limits: RiskLimits,
                  started: datetime, trigger: str, auto_trade: bool) -> dict[str, Any]:
        params = signal_params(limits, self.settings.timeframe)
        result = scan_latest(candles, params, started)
        errors.update(result.errors)
        ranked = self._rank(result.signals)
        held = held_symbols(self.runtime)
        cooldown = timedelta(minutes=limits.signal_cooldown_minutes)
        filtered = filter_signals([r.signal for r in ranked], started, held, self.history.last_taken_at(), cooldown)
        why = {id(d.signal): d.reason for d in filtered.dropped}
        rows: list[tuple[Ranked, Recorded, str | None]] = []
        for r in ranked:
            reason = why.get(id(r.signal))
            status = "active" if reason is None else "expired" if reason.startswith("expired") else "dropped"
            record = self.history.record(RULE, self.settings.source, r.signal, r.quality, status,
                                         reason or "all confirmations passed")
            if record.new and status == "active":
                self._produced(r)
            rows.append((r, record, reason))
        taken = 0
        if auto_trade:
            kept = [(r.signal, record, r.quality) for r, record, reason in rows if reason is None]
            taken = self.auto.trade(kept, limits, started)
        return scan_view(self, started, trigger, len(candles) + len(errors), rows, result.rejected, errors, held,
                         limits, auto_trade, taken)

    def _produced(self, r: Ranked) -> None:
        s = r.signal
        self.runtime.events.emit(
            "signal.produced",
            f"{s.side.value} {s.symbol} {s.timeframe}: confidence {s.confidence}, quality {r.quality.score}, "
            f"entry {s.entry}, stop {s.stop}, target {s.target}",
            data={"symbol": s.symbol, "side": s.side.value, "confidence": s.confidence,
                  "quality": str(r.quality.score), "source": self.settings.source},
        )

    def _load(self) -> tuple[dict[str, CandleArrays], dict[str, str]]:
        """Return the last closed bars of every symbol, and why the others could not be had."""
        source, timeframe = self.settings.source, self.settings.timeframe
        symbols = self.store.symbols(source)

        def one(symbol: str) -> CandleArrays:
            return self.store.candles(source, symbol, timeframe, limit=HISTORY_BARS)

        candles: dict[str, CandleArrays] = {}
        errors: dict[str, str] = {}
        workers = 1 if self.simulated else LOAD_WORKERS
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="candles") as pool:
            futures = {symbol: pool.submit(one, symbol) for symbol in symbols}
            for symbol, future in futures.items():
                try:
                    candles[symbol] = future.result()
                except ExchangeError as exc:
                    errors[symbol] = exc.describe()
                except (CandleDataError, ValidationError) as exc:
                    errors[symbol] = str(exc)
        return candles, errors

    def _rank(self, signals: list[Signal]) -> list[Ranked]:
        ranked = []
        for signal in signals:
            rate, note = self._win_rate(signal)
            try:
                # without a win rate the score is taken over the parts that have data, and names the missing one
                quality = quality_score(signal, rate, note if rate is None else None)
            except ValidationError as exc:  # a win rate from elsewhere out of 0..1: rank without it, say so
                quality = quality_score(signal, None, f"{rate!r} refused ({exc.message})")
            else:
                if note and rate is not None:
                    quality = replace(quality, notes=(*quality.notes, note))
            ranked.append(Ranked(signal, quality))
        ranked.sort(key=lambda r: (-r.quality.score, -r.signal.confidence, r.signal.symbol))
        return ranked

    def _win_rate(self, signal: Signal) -> tuple[Decimal | float | None, str | None]:
        """Return this rule's win rate on the symbol: recorded outcomes, else the backtester's, else unknown."""
        source, timeframe = self.settings.source, self.settings.timeframe
        trades, wins = self.history.recorded_win_rate(RULE, source, signal.symbol, timeframe)
        if trades >= MIN_OUTCOMES:
            return Decimal(wins) / Decimal(trades), f"from {trades} recorded trades of this rule on {signal.symbol}"
        rates = self.runtime.optional_feature(WinRates)
        if rates is not None:
            try:
                rate = rates.signal_win_rate(source=source, symbol=signal.symbol, timeframe=timeframe)
            except Exception as exc:  # another feature's fault must not stop the scan; it is logged and said
                log.exception("backtest win rate for %s failed", signal.symbol)
                return None, f"backtest win rate unavailable ({type(exc).__name__})"
            if rate is not None:
                return rate, "from the backtester"
        if trades:
            return None, f"only {trades} recorded trade(s) of this rule on {signal.symbol} (need {MIN_OUTCOMES})"
        return None, None
