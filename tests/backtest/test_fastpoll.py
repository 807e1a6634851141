"""The poll's shortcuts decide exactly what the full tests decide."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from riskmgr.backtest import fastpoll
from riskmgr.backtest.fastpoll import EXIT_REASON
from riskmgr.exchanges.fills import ExitKind
from tests.backtest.test_fastpath import PCT, _limits

D = Decimal
EQUITY = st.decimals(min_value=D("8000"), max_value=D("10700"), places=4)


@settings(max_examples=300, deadline=None, database=None)
@given(low=EQUITY, high=EQUITY, peak=st.decimals(min_value=D("10000"), max_value=D("10600"), places=2),
       day_start=st.decimals(min_value=D("9200"), max_value=D("10400"), places=2), loss=PCT, reducing=PCT,
       max_dd=PCT)
def test_tiers_quiet_at_an_equity_are_quiet_at_every_higher_one_on_the_same_figures(low, high, peak, day_start,
                                                                                     loss, reducing, max_dd):
    # the poll skips the tiers' Decimal test on an equity at or above one they were found quiet at (same opening
    # equity, same peak): that is sound only if quiet never turns to not quiet as the equity rises
    low, high = min(low, high), max(low, high)
    limits = _limits(daily_loss_limit_pct=loss, drawdown_warn_pct=reducing - D("0.1"), drawdown_reducing_pct=reducing,
                     max_drawdown_pct=max_dd, risk_per_trade_pct=D("0.1"))
    acct = SimpleNamespace(limits=limits, peak=peak, day_start=day_start)

    if fastpoll._tiers_quiet(acct, low):  # type: ignore[arg-type]
        assert fastpoll._tiers_quiet(acct, high)  # type: ignore[arg-type]


def test_an_exit_is_recorded_under_its_kind_s_value():
    assert {kind: kind.value for kind in ExitKind} == EXIT_REASON
    assert {EXIT_REASON[kind] for kind in ExitKind} == {"stop_loss", "take_profit", "liquidation"}
