"""The built-in backtest presets and the defaults every run starts from.

* **Conservative** — the app's defaults: ``RiskLimits()`` (1.5 % risk per trade, 5x leverage cap, 3 % daily
  loss limit, drawdown tiers 3 / 4 / 5 %, 1000 USDT per position, three losses in a row pause an hour) and the
  default ``SignalParams`` (confidence 75, ADX 20, stop 1.5 ATR, target 3.75 ATR), entries at 3x leverage. As
  live, a halt lasts until an operator re-arms, which never happens inside a run.
* **Balanced** — 2 % risk per trade, 10x cap, 5 % daily loss limit, drawdown tiers 6 / 8 / 10 %, 5000 USDT per
  position, four losses in a row pause an hour, up to 20 automatic entries a day; signals from confidence 70
  and ADX 18 (RSI 42–70 for longs); entries at 5x; an operator re-arms at the start of the next risk day.
* **Aggressive** — 3 % risk per trade, 20x cap, 8 % daily loss limit, drawdown tiers 10 / 15 / 20 %, 20000
  USDT per position, five losses pause 30 minutes, up to 50 entries a day, reward:risk from 1.5:1, partial
  profit of half the position at +3 %; signals from confidence 65 and ADX 15, target 2.5 ATR; entries at 10x;
  re-armed the next risk day.
* **SMA crossover reference** — the tutorials' two-moving-average strategy (SMA 10 / 20, always in the market,
  all cash in whole units, commission 0 by default, no risk rules) on ETH with 10000 USDT; see
  ``backtest.reference``.
* **Limits in force** — the Conservative strategy with the risk limits the app enforces right now.

Fees and slippage default to the paper exchange's (``PAPER_TAKER_FEE``, ``PAPER_MAKER_FEE``,
``PAPER_SLIPPAGE_BPS``), so a backtest fills like the paper account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from riskmgr.core.formatting import dec

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime


@dataclass(frozen=True)
class Preset:
    """A named set of backtest settings (any subset; the defaults fill the rest)."""

    name: str
    label: str
    description: str
    params: dict[str, Any]
    builtin: bool = True


BUILTIN: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("conservative", "Conservative", "The app's default risk limits and signal rules, 3x; no re-arm.",
               {"strategy": "signals", "leverage": 3, "rearm": "never"}),
        Preset(
            "balanced", "Balanced", "2 % risk, 10 % max drawdown, confidence 70, 5x; re-armed the next day.",
            {
                "strategy": "signals", "leverage": 5, "rearm": "next_day",
                "limits": {
                    "risk_per_trade_pct": "2", "max_leverage": 10, "daily_loss_limit_pct": "5",
                    "drawdown_warn_pct": "6", "drawdown_reducing_pct": "8", "max_drawdown_pct": "10",
                    "max_position_notional": "5000", "max_consecutive_losses": 4, "min_signal_confidence": 70,
                    "auto_trade_daily_cap": 20,
                },
                "signal": {"confidence_threshold": 70, "adx_min": 18, "rsi_long_min": 42, "rsi_long_max": 70},
            },
        ),
        Preset(
            "aggressive", "Aggressive", "3 % risk, 20 % max drawdown, confidence 65, partial profits, 10x.",
            {
                "strategy": "signals", "leverage": 10, "rearm": "next_day",
                "limits": {
                    "risk_per_trade_pct": "3", "max_leverage": 20, "daily_loss_limit_pct": "8",
                    "drawdown_warn_pct": "10", "drawdown_reducing_pct": "15", "max_drawdown_pct": "20",
                    "max_position_notional": "20000", "max_consecutive_losses": 5, "loss_cooldown_minutes": 30,
                    "min_signal_confidence": 65, "auto_trade_daily_cap": 50, "min_reward_risk": "1.5",
                    "partial_tp_enabled": True, "partial_tp_fraction_pct": "50", "partial_tp_trigger_pct": "3",
                },
                "signal": {"confidence_threshold": 65, "adx_min": 15, "target_atr": 2.5, "min_reward_risk": 1.5},
            },
        ),
        Preset(
            "sma_reference", "SMA crossover reference",
            "SMA 10/20 crossover, always in the market, all cash in whole units, no risk rules.",
            # ETH: 10000 USDT buys whole units of it (whole BTC would need more than the capital)
            {"strategy": "sma_cross", "symbol": "ETH/USDT:USDT", "capital": "10000", "sma_fast": 10, "sma_slow": 20,
             "commission_pct": "0"},
        ),
    )
}
LIVE_PRESET = "live_limits"


def defaults(runtime: Runtime) -> dict[str, Any]:
    """Return the settings every run starts from (the paper exchange's fees and funding, the display time zone)."""
    s = runtime.settings
    return {
        "strategy": "signals", "source": "simulated", "symbol": "BTC/USDT:USDT", "timeframe": "15m",
        "timezone": s.display_timezone, "capital": "10000",
        "taker_fee_pct": dec(s.paper_taker_fee * 100), "maker_fee_pct": dec(s.paper_maker_fee * 100),
        "slippage_bps": dec(s.paper_slippage_bps), "funding_pct_8h": dec(s.paper_funding_pct_8h), "leverage": 3,
        "entry_order": "market",
        "rearm": "never", "limits": {}, "signal": {}, "sma_fast": 10, "sma_slow": 20, "commission_pct": "0",
        "contract": {},
    }


def builtin_presets(runtime: Runtime) -> list[Preset]:
    """Return the built-in presets, with "Limits in force" read from the app now."""
    live = Preset(LIVE_PRESET, "Limits in force", "The Conservative strategy with the risk limits in force now.",
                  {"strategy": "signals", "leverage": 3, "rearm": "never", "limits": runtime.limits().to_dict()})
    return [*BUILTIN.values(), live]
