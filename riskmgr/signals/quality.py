"""Quality score for ranking signals, 0..100, from up to four weighted parts.

- confidence, 40 %: the signal's confidence (0..100);
- win rate, 30 %: the rule's historical win rate on the symbol (a fraction 0..1, from recorded trades or the
  backtester);
- market condition, 20 %: the signal's market condition (0..100: trend strength by ADX and how
  central the volatility is within its allowed bounds);
- reward:risk, 10 %: full marks at 3:1 or better, proportionally less below (2:1 earns two thirds).

A part without data (a win rate with no history yet) is left out, never guessed: the weights of the parts that
have data are scaled up to add to 100 % again, and the score names what is missing ("win rate: no history").
Each part is reported as the points it contributes (rounded to 0.01); the score is their sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from riskmgr.core.errors import ValidationError
from riskmgr.signals.conservative import Signal

WEIGHTS: dict[str, Decimal] = {
    "confidence": Decimal("0.40"),
    "win_rate": Decimal("0.30"),
    "market": Decimal("0.20"),
    "reward_risk": Decimal("0.10"),
}
LABELS: dict[str, str] = {
    "confidence": "confidence", "win_rate": "win rate", "market": "market condition", "reward_risk": "reward:risk",
}
NO_HISTORY = "no history"
REWARD_RISK_CAP = Decimal(3)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_WEIGHT_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Quality:
    """A quality score and the points each part with data contributed (they sum to ``score``).

    ``missing``: the parts left out for want of data, each with why; ``weights``: the weights actually applied
    (renormalised over the parts that have data, so they add to 1).
    """

    score: Decimal
    components: dict[str, Decimal]
    notes: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    weights: dict[str, Decimal] = field(default_factory=dict)


def _win_rate(win_rate: float | Decimal | None) -> Decimal | None:
    if win_rate is None:
        return None
    if isinstance(win_rate, bool) or not isinstance(win_rate, int | float | Decimal):
        raise ValidationError("win_rate", f"must be a number in 0..1, got {win_rate!r}")
    value = win_rate if isinstance(win_rate, Decimal) else Decimal(repr(float(win_rate)))
    if not value.is_finite() or not 0 <= value <= 1:
        raise ValidationError("win_rate", f"must be a fraction in 0..1, got {win_rate!r}")
    return value


def quality_score(signal: Signal, win_rate: float | Decimal | None, missing_reason: str | None = None) -> Quality:
    """Return the ranking score of a signal (0..100) over the parts that have data, and their points.

    ``win_rate`` None means there is no win rate to use; ``missing_reason`` says why (default "no history").
    """
    rate = _win_rate(win_rate)
    rr = min(max(signal.reward_risk, Decimal(0)), REWARD_RISK_CAP) / REWARD_RISK_CAP
    raw: dict[str, Decimal] = {"confidence": Decimal(signal.confidence)}
    missing: dict[str, str] = {}
    if rate is None:
        missing["win_rate"] = missing_reason or NO_HISTORY
    else:
        raw["win_rate"] = rate * _HUNDRED
    raw["market"] = Decimal(signal.market_condition)
    raw["reward_risk"] = rr * _HUNDRED
    total = sum((WEIGHTS[name] for name in raw), Decimal(0))
    components = {name: (WEIGHTS[name] * value / total).quantize(_CENT) for name, value in raw.items()}
    weights = {name: (WEIGHTS[name] / total).quantize(_WEIGHT_PLACES) for name in raw}
    notes: list[str] = []
    if rate is not None:
        notes.append(f"win rate {rate * _HUNDRED:.1f} % on this symbol")
    for name, why in missing.items():
        notes.append(f"{LABELS[name]}: {why}")
    if missing:
        kept = ", ".join(f"{LABELS[name]} {weights[name] * _HUNDRED:.1f} %" for name in raw)
        notes.append(f"scored over the parts with data only, weights renormalised: {kept}")
    return Quality(score=sum(components.values(), Decimal(0)), components=components, notes=tuple(notes),
                   missing=missing, weights=weights)
