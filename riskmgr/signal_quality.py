"""Quality score for ranking signals, 0..100, from four weighted parts.

- confidence, 40 %: the signal's confidence (0..100);
- win rate, 30 %: the rule's historical win rate on the symbol (a fraction 0..1, from backtests or
  past trades). When it is unknown a neutral 50 % is used, and the notes say so;
- market condition, 20 %: the signal's market condition (0..100: trend strength by ADX and how
  central the volatility is within its allowed bounds);
- reward:risk, 10 %: full marks at 3:1 or better, proportionally less below (2:1 earns two thirds).

Each part is reported as the points it contributes (rounded to 0.01); the score is their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from riskmgr.errors import ValidationError
from riskmgr.signals import Signal

WEIGHTS: dict[str, Decimal] = {
    "confidence": Decimal("0.40"),
    "win_rate": Decimal("0.30"),
    "market": Decimal("0.20"),
    "reward_risk": Decimal("0.10"),
}
NEUTRAL_WIN_RATE = Decimal("0.5")
REWARD_RISK_CAP = Decimal(3)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Quality:
    """A quality score and the points each part contributed (they sum to ``score``)."""

    score: Decimal
    components: dict[str, Decimal]
    notes: tuple[str, ...]


def _win_rate(win_rate: float | Decimal | None) -> tuple[Decimal, tuple[str, ...]]:
    if win_rate is None:
        return NEUTRAL_WIN_RATE, ("win rate unknown: neutral 50 % used",)
    if isinstance(win_rate, bool) or not isinstance(win_rate, int | float | Decimal):
        raise ValidationError("win_rate", f"must be a number in 0..1, got {win_rate!r}")
    value = win_rate if isinstance(win_rate, Decimal) else Decimal(repr(float(win_rate)))
    if not value.is_finite() or not 0 <= value <= 1:
        raise ValidationError("win_rate", f"must be a fraction in 0..1, got {win_rate!r}")
    return value, (f"win rate {value * _HUNDRED:.1f} % on this symbol",)


def quality_score(signal: Signal, win_rate: float | Decimal | None) -> Quality:
    """Return the ranking score of a signal (0..100) and its weighted parts."""
    rate, notes = _win_rate(win_rate)
    rr = min(max(signal.reward_risk, Decimal(0)), REWARD_RISK_CAP) / REWARD_RISK_CAP
    raw = {
        "confidence": Decimal(signal.confidence),
        "win_rate": rate * _HUNDRED,
        "market": Decimal(signal.market_condition),
        "reward_risk": rr * _HUNDRED,
    }
    components = {name: (WEIGHTS[name] * value).quantize(_CENT) for name, value in raw.items()}
    return Quality(score=sum(components.values(), Decimal(0)), components=components, notes=notes)
