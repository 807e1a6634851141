"""What the Signals page, the API and the CLI show: scan results, signal rows and chart series (JSON-safe)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np

from riskmgr.core.errors import ValidationError
from riskmgr.core.formatting import dec
from riskmgr.core.validation import SYMBOL_MAX, req_str, shown
from riskmgr.risk.config import RiskLimits
from riskmgr.signals.indicators import compute_indicators
from riskmgr.signals.params import REASON_TEXT, Reason
from riskmgr.signals.quality import LABELS, WEIGHTS
from riskmgr.signals.rules import (
    BAND_WITH,
    MACD_HIST,
    MACD_LINE,
    MOMENTUM_WITH,
    STRENGTH_MAX,
    TREND_PRICE,
    TREND_STACK,
    VOLUME_POINTS,
)
from riskmgr.signals.trade import PlannedSignal, current_book, trade_now

if TYPE_CHECKING:
    from riskmgr.scanner.core import Ranked, Scanner
    from riskmgr.scanner.history import Recorded

CHART_BARS = 200
COMPONENT_MAX = {
    "trend": TREND_STACK + TREND_PRICE, "strength": STRENGTH_MAX, "momentum": MOMENTUM_WITH,
    "macd": MACD_LINE + MACD_HIST, "band": BAND_WITH, "volume": VOLUME_POINTS,
}


def trade_url(symbol: str, side: str, stop: Any, target: Any) -> str:
    """Return the order ticket link pre-filled with a signal (the ticket reads these query parameters)."""
    order_side = "buy" if side == "long" else "sell"
    return "/trade?" + urlencode({"symbol": symbol, "side": order_side, "stop_loss": dec(stop),
                                  "take_profit": dec(target)})


def signal_view(r: Ranked, record: Recorded, reason: str | None = None) -> dict[str, Any]:
    """Describe one ranked signal with its confidence and quality components."""
    s, q = r.signal, r.quality
    return {
        "key": record.key, "symbol": s.symbol, "side": s.side.value,
        "order_side": s.side.entry_order_side.value, "timeframe": s.timeframe,
        "entry": dec(s.entry), "stop": dec(s.stop), "target": dec(s.target), "reward_risk": dec(s.reward_risk),
        "confidence": s.confidence, "components": dict(s.components),
        "quality": {"score": dec(q.score), "components": {k: dec(v) for k, v in q.components.items()},
                    "notes": list(q.notes), "missing": dict(q.missing),
                    "weights": {k: dec(v) for k, v in q.weights.items()}},
        "market_condition": s.market_condition, "atr": dec(s.atr),
        "indicators": {k: _num(v) for k, v in s.indicators.items()}, "reasons": list(s.reasons),
        "created_at": s.created_at.isoformat(), "valid_until": s.valid_until.isoformat(),
        "status": record.status, "drop_reason": reason,
        "trade_url": trade_url(s.symbol, s.side.value, s.stop, s.target),
    }


def _base(scanner: Scanner, started: datetime, trigger: str) -> dict[str, Any]:
    finished = scanner.runtime.clock.now()
    return {
        "source": scanner.settings.source, "simulated": scanner.simulated, "timeframe": scanner.settings.timeframe,
        "started_at": started.isoformat(), "finished_at": finished.isoformat(),
        "duration_ms": int((finished - started).total_seconds() * 1000), "trigger": trigger,
    }


def failed_view(scanner: Scanner, started: datetime, trigger: str, reason: str) -> dict[str, Any]:
    """Describe a scan that could not even list the symbols."""
    return _base(scanner, started, trigger) | {
        "error": f"the symbols of {scanner.settings.source} could not be read: {reason}", "symbols": 0,
        "signals": [], "dropped": [], "rejected": [], "errors": [], "held": [], "auto_trade": False, "taken": 0,
    }


def scan_view(scanner: Scanner, started: datetime, trigger: str, symbols: int,
              rows: list[tuple[Ranked, Recorded, str | None]], rejected: dict[str, Reason], errors: dict[str, str],
              held: set[str], limits: RiskLimits, auto_trade: bool, taken: int) -> dict[str, Any]:
    """Describe a finished scan: ranked signals, dropped ones with reasons, rejections and errors."""
    kept = [signal_view(r, rec) for r, rec, reason in rows if reason is None]
    for rank, row in enumerate(kept, start=1):
        row["rank"] = rank
    return _base(scanner, started, trigger) | {
        "error": None, "symbols": symbols, "signals": kept,
        "dropped": [signal_view(r, rec, reason) for r, rec, reason in rows if reason is not None],
        "rejected": [{"symbol": sym, "reason": code.name.lower(), "text": REASON_TEXT[code]}
                     for sym, code in sorted(rejected.items())],
        "errors": [{"symbol": sym, "error": text} for sym, text in sorted(errors.items())],
        "held": sorted(held), "auto_trade": auto_trade, "taken": taken,
        "thresholds": {"min_confidence": limits.min_signal_confidence,
                       "cooldown_minutes": limits.signal_cooldown_minutes,
                       "min_reward_risk": dec(limits.min_reward_risk)},
    }


def api_view(scanner: Scanner) -> dict[str, Any]:
    """Return the latest scan with every signal's current status and decisions, and the auto-trading policy."""
    run = scanner.history.latest_run()
    data: dict[str, Any] = dict(run.data) if run is not None else {}
    keys = [row["key"] for row in data.get("signals", []) + data.get("dropped", [])]
    current = scanner.history.statuses(keys)
    for row in data.get("signals", []) + data.get("dropped", []):
        row.update(current.get(row["key"], {}))
    add_trade_now(scanner, data.get("signals", []) + data.get("dropped", []))
    limits = scanner.runtime.limits()
    return {
        "source": scanner.settings.source, "simulated": scanner.simulated, "timeframe": scanner.settings.timeframe,
        "signal_seconds": scanner.settings.signal_seconds, "now": scanner.runtime.clock.now().isoformat(),
        "scan": None if run is None else {k: data.get(k) for k in (
            "started_at", "finished_at", "duration_ms", "trigger", "symbols", "error", "auto_trade", "taken")},
        "signals": data.get("signals", []), "dropped": data.get("dropped", []),
        "rejected": data.get("rejected", []), "errors": data.get("errors", []), "held": data.get("held", []),
        "thresholds": data.get("thresholds") or {"min_confidence": limits.min_signal_confidence,
                                                 "cooldown_minutes": limits.signal_cooldown_minutes,
                                                 "min_reward_risk": dec(limits.min_reward_risk)},
        "component_max": COMPONENT_MAX, "quality_weights": {k: dec(v) for k, v in WEIGHTS.items()},
        "quality_labels": LABELS,
        "auto_trading": {"daily_cap": limits.auto_trade_daily_cap,
                         "accounts": [p.as_dict() for p in scanner.auto.policies()]},
    }


def add_trade_now(scanner: Scanner, rows: list[dict[str, Any]]) -> None:
    """Give every signal row its ``now``: whether it can be traded by hand now, why, and the re-centred ticket."""
    if not rows:
        return
    runtime = scanner.runtime
    now, book = runtime.clock.now(), current_book(runtime)
    last_taken = scanner.history.last_taken_at()
    cooldown = timedelta(minutes=runtime.limits().signal_cooldown_minutes)
    for row in rows:
        row["now"] = trade_now(runtime, scanner.settings.source, PlannedSignal.from_row(row), now, book,
                               last_taken.get(row["symbol"]), cooldown)


def plan_view(scanner: Scanner, key: str | None, symbol: str | None) -> dict[str, Any] | None:
    """Return one signal (by key, else the latest scan's signal on ``symbol``) with its ``now``; None if unknown."""
    run = scanner.history.latest_run()
    rows = (run.data.get("signals", []) + run.data.get("dropped", [])) if run is not None else []
    row = next((r for r in rows if (r["key"] == key if key else r["symbol"] == symbol)), None)
    if row is None and key:
        row = scanner.history.find(key)
    if row is None:
        return None
    row = dict(row) | scanner.history.statuses([row["key"]]).get(row["key"], {})
    add_trade_now(scanner, [row])
    return row


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _series(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values.tolist()]


def chart_view(scanner: Scanner, symbol: str, bars: int = CHART_BARS) -> dict[str, Any]:
    """Return the last ``bars`` bars of a symbol with the indicators the rules read, and its signal lines."""
    from riskmgr.scanner.core import HISTORY_BARS, signal_params

    source, timeframe = scanner.settings.source, scanner.settings.timeframe
    params = signal_params(scanner.runtime.limits(), timeframe)
    candles = scanner.store.candles(source, symbol, timeframe, limit=HISTORY_BARS)
    ind = compute_indicators(candles, params.indicators)
    lo = max(0, len(candles) - bars)
    htf = np.asarray(ind.htf_index(slice(lo, len(candles))))

    def trend(ema: np.ndarray) -> list[float | None]:
        return _series(np.where(htf >= 0, ema[np.maximum(htf, 0)], np.nan))

    run = scanner.history.latest_run()
    rows = (run.data.get("signals", []) + run.data.get("dropped", [])) if run is not None else []
    signal = next((row for row in rows if row["symbol"] == symbol), None)
    return {
        "symbol": symbol, "source": source, "simulated": scanner.simulated, "timeframe": timeframe,
        "trend_timeframe": params.indicators.htf_label,
        "ema_periods": [params.indicators.ema_fast, params.indicators.ema_mid, params.indicators.ema_slow],
        "t": [int(t) for t in candles.ts[lo:].tolist()],
        "open": _series(candles.open[lo:]), "high": _series(candles.high[lo:]), "low": _series(candles.low[lo:]),
        "close": _series(candles.close[lo:]), "volume": _series(candles.volume[lo:]),
        "bb_upper": _series(ind.bb_upper[lo:]), "bb_middle": _series(ind.bb_middle[lo:]),
        "bb_lower": _series(ind.bb_lower[lo:]), "rsi": _series(ind.rsi[lo:]),
        "ema_fast": trend(ind.htf_ema_fast), "ema_mid": trend(ind.htf_ema_mid), "ema_slow": trend(ind.htf_ema_slow),
        "rsi_band": {"long": [params.rsi_long_min, params.rsi_long_max],
                     "short": [100 - params.rsi_long_max, 100 - params.rsi_long_min]},
        "signal": None if signal is None else {k: signal[k] for k in (
            "side", "entry", "stop", "target", "confidence", "created_at", "valid_until", "trade_url")},
    }


def normalize_symbol(raw: str) -> str:
    """Accept a unified symbol (BTC/USDT:USDT) or an exchange id (BTCUSDT); return the unified one."""
    text = raw.strip().upper()
    if "/" not in text and text.endswith("USDT") and len(text) > 4:
        return f"{text[:-4]}/USDT:USDT"
    return text


def scanned_symbol(s: Scanner, raw: str) -> str:
    """Return the unified symbol if the scanner's source lists it; otherwise fail naming the field."""
    symbol = normalize_symbol(req_str({"symbol": raw}, "symbol", max_len=SYMBOL_MAX))
    if symbol not in s.store.symbols(s.settings.source):
        raise ValidationError("symbol", f"{shown(raw)} is not a USDT perpetual of {s.settings.source}, e.g. "
                                        "BTC/USDT:USDT")
    return symbol
