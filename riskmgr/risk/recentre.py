"""Re-centring: move an entry's stop and target to the same distances from the current mark.

A market order is judged at the mark of the moment it is checked. Levels chosen against an earlier mark (the
ticket's preview, a signal's bar close) keep their meaning only if they move with it: the stop stays as far below
(a long) and the target as far above the mark as they were from the reference. Rounding to the tick is cautious:
the stop never comes closer than its distance (the risk is never understated), the target never goes further (the
reward is never overstated).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import ValidationError
from riskmgr.core.formatting import dec
from riskmgr.risk.sizing import fmt_number, round_to_tick


@dataclass(frozen=True)
class Recentred:
    """Stop and target before and after re-centring on ``mark`` (``reference``: the price they were set against)."""

    reference: Decimal
    mark: Decimal
    stop_before: Decimal
    stop: Decimal
    target_before: Decimal | None
    target: Decimal | None

    @property
    def moved(self) -> bool:
        """Return True when re-centring changed a level."""
        return self.stop != self.stop_before or self.target != self.target_before

    def describe(self) -> str:
        """Say what changed: "re-centred on mark X: stop A → B, target C → D"."""
        text = f"re-centred on mark {fmt_number(self.mark)}: stop {_like(self.stop_before, self.stop)} → "
        text += fmt_number(self.stop)
        if self.target is not None and self.target_before is not None:
            text += f", target {_like(self.target_before, self.target)} → {fmt_number(self.target)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Return the levels JSON-safe, with the sentence saying what changed."""
        return {
            "reference": dec(self.reference), "entry": dec(self.mark), "mark": dec(self.mark),
            "stop_loss_before": dec(self.stop_before), "stop_loss": dec(self.stop),
            "take_profit_before": dec(self.target_before), "take_profit": dec(self.target),
            "message": self.describe(),
        }


def _like(before: Decimal, after: Decimal) -> str:
    """Show a level as given with no more places than its re-centred one (a computed 0.3299512553... as 0.3300)."""
    places = after.as_tuple().exponent
    if isinstance(places, int) and before.as_tuple().exponent < places:  # type: ignore[operator]  # levels are finite: an int exponent
        return f"{before.quantize(Decimal(1).scaleb(places)):f}"
    return fmt_number(before)


def recentre(
    side: PositionSide, reference: Decimal, stop: Decimal, target: Decimal | None, mark: Decimal, tick: Decimal
) -> Recentred:
    """Return ``stop`` and ``target`` moved from ``reference`` to ``mark`` at the same distances, tick-rounded."""
    sign = side.sign
    stop_distance = (reference - stop) * sign
    if stop_distance <= 0:
        where = "below" if side is PositionSide.LONG else "above"
        raise ValidationError("stop_loss", f"stop {fmt_number(stop)} must be {where} the reference "
                                           f"{fmt_number(reference)} to be re-centred")
    long = side is PositionSide.LONG
    # a long's stop rounds down (further from the mark) and its target down (nearer); a short's both up
    new_stop = round_to_tick(mark - sign * stop_distance, tick, up=not long)
    if new_stop <= 0:
        raise ValidationError("stop_loss", f"re-centred on mark {fmt_number(mark)} the stop would be at or below 0")
    new_target = None
    if target is not None:
        target_distance = (target - reference) * sign
        if target_distance <= 0:
            raise ValidationError("take_profit", f"target {fmt_number(target)} is not on the profit side of the "
                                                 f"reference {fmt_number(reference)}")
        new_target = round_to_tick(mark + sign * target_distance, tick, up=not long)
    return Recentred(reference, mark, stop, new_stop, target, new_target)
