"""The execution core: the one decision on a new-risk entry, shared by the live gateway and the backtest.

Both sides build a ``RuleContext`` from what they know and call ``decide_entry``: the live ``OrderGateway`` from
venue reads, the account's baseline and the intents in flight, under the account's gate lock
(``risk.pretrade.Prepared.decide``); the backtest from its simulated account at a bar's close
(``backtest.decisions``). The decision judges, in this order:

1. the trading state (``risk.state.admits``);
2. the caller's account gates (live: the per-account pause of new entries);
3. for an automatic entry, the daily cap of automatic entries (``rules.auto_trade_daily_cap``);
4. every pre-trade rule of ``risk.rules``, in the receipt's order, on the size ``risk.sizing`` gives.

Stop and target are rounded to the tick on the cautious side by ``risk.sizing.round_levels`` on both sides. What
differs is only what surrounds the decision: the gateway stores the intent under a deterministic client id and calls
the venue; the backtest fills the entry on its simulated venue. ``tests/risk/test_decision_live_and_backtest.py``
builds the same account on both sides and checks they decide alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from riskmgr.core.domain import TradingState, Verdict
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.context import RuleContext
from riskmgr.risk.rules import auto_trade_daily_cap, evaluate
from riskmgr.risk.state import admits


@dataclass(frozen=True)
class EntryDecision:
    """Every verdict on one entry, in judging order, and the context the rules read (None: it could not be built,
    because a read failed; every rule then denies, naming the read)."""

    verdicts: tuple[Verdict, ...]
    context: RuleContext | None

    @property
    def allowed(self) -> bool:
        """True when no verdict denies."""
        return all(v.allowed for v in self.verdicts)

    @property
    def denials(self) -> list[Verdict]:
        """The denying verdicts, in judging order."""
        return [v for v in self.verdicts if not v.allowed]

    @property
    def qty(self) -> Decimal | None:
        """The quantity an allowed entry is placed with (sized from the risk budget, or as given); None if denied."""
        if not self.allowed or self.context is None or self.context.sizing is None:
            return None
        return self.context.sizing.qty


def rule_verdicts(ctx: RuleContext, overrides: Mapping[str, Verdict] | None = None) -> list[Verdict]:
    """Return every pre-trade rule's verdict in receipt order; ``overrides`` replace the verdicts of the rules whose
    input the caller knows to be unknown (their own reason would show a placeholder)."""
    verdicts = evaluate(ctx)
    if not overrides:
        return verdicts
    return [overrides.get(v.rule, v) for v in verdicts]


def decide_entry(
    ctx: RuleContext, *, gates: Sequence[Verdict] = (), overrides: Mapping[str, Verdict] | None = None
) -> EntryDecision:
    """Judge one new-risk entry: the trading state, ``gates``, the automatic-entry cap, then every rule."""
    state = admits(ctx.trading_state, reduces_exposure=ctx.intent.reduce_only, is_cancel=False)
    cap = () if ctx.automatic_entries is None else (auto_trade_daily_cap.check(ctx),)
    return EntryDecision((state, *gates, *cap, *rule_verdicts(ctx, overrides)), ctx)


def undecidable(
    trading_state: TradingState, rules: Sequence[Verdict], *, limits: RiskLimits, now: datetime,
    gates: Sequence[Verdict] = (), automatic_entries: int | None = None,
) -> EntryDecision:
    """The decision when no context could be built: the same verdicts in the same order, ``rules`` denying."""
    state = admits(trading_state, reduces_exposure=False, is_cancel=False)
    cap = () if automatic_entries is None else (auto_trade_daily_cap.judge(automatic_entries, limits, now),)
    return EntryDecision((state, *gates, *cap, *rules), None)
