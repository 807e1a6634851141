"""The statistics formulas on a known equity series and a known list of trades."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal

import numpy as np
import pytest

from riskmgr.backtest.outcome import Outcome, TradeTable
from riskmgr.backtest.stats import compute_stats, duration_text, longest_run

D = Decimal
DAY = 86_400_000
JAN_1 = 1_735_689_600_000  # 2025-01-01 00:00 UTC


def outcome(equity: list[float], nets: list[str], capital: str = "1000", final: str | None = None) -> Outcome:
    """Daily bars from 2025-01-01; ``equity`` at each close."""
    values = np.array(equity, dtype=float)
    trades = TradeTable(net_pnl=[D(x) for x in nets], fees=[D(1)] * len(nets))
    return Outcome(
        ts=JAN_1 + DAY * np.arange(len(values), dtype=np.int64), close=values, bar_ms=DAY, first_bar=0, equity=values,
        capital=D(capital), final_equity=D(final if final is not None else repr(equity[-1])), trades=trades,
        exposure_bars=3, open_fees=D("0.5"),
    )


@pytest.fixture
def stats():
    # capital 1000 at Jan 1 00:00, then the closes of six daily bars
    return compute_stats(outcome([1100, 1000, 900, 1000, 1200, 1080], ["100", "-100", "-100", "300", "-120"]))


def test_total_return_and_cagr(stats):
    assert stats["total_return_pct"] == 8.0
    years = 6 / 365.25
    assert stats["cagr_pct"] == round((1.08 ** (1 / years) - 1) * 100, 4)
    assert "annualised from 6.0 days" in stats["notes"]["cagr_pct"]


def test_max_drawdown_its_peak_trough_recovery_and_duration(stats):
    assert stats["max_drawdown_pct"] == round(200 / 1100 * 100, 4)  # 1100 down to 900
    assert stats["max_drawdown_peak_at"] == "2025-01-02T00:00:00+00:00"
    assert stats["max_drawdown_trough_at"] == "2025-01-04T00:00:00+00:00"
    assert stats["max_drawdown_recovered_at"] == "2025-01-06T00:00:00+00:00"  # 1200 >= 1100
    assert stats["max_drawdown_duration_s"] == 4 * 86400
    assert stats["longest_drawdown_s"] == 4 * 86400  # the later dip (1200 -> 1080) lasts one day so far


def test_sharpe_and_sortino_from_daily_returns_annualised_with_365_days(stats):
    daily = [1100 / 1000 - 1, 1000 / 1100 - 1, 900 / 1000 - 1, 1000 / 900 - 1, 1200 / 1000 - 1, 1080 / 1200 - 1]
    mean = statistics.fmean(daily)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in daily) / len(daily))
    assert stats["sharpe"] == round(mean / statistics.stdev(daily) * math.sqrt(365), 4)
    assert stats["sortino"] == round(mean / downside * math.sqrt(365), 4)
    assert stats["calmar"] == round(stats["cagr_pct"] / stats["max_drawdown_pct"], 4)


def test_trade_figures(stats):
    assert stats["trades"] == 5
    assert stats["win_rate_pct"] == 40.0
    assert stats["profit_factor"] == 1.25  # 400 / 320
    assert stats["expectancy"] == "16"  # 80 / 5
    assert stats["average_win"] == "200" and stats["average_loss"] == "-106.66666667"
    assert (stats["best_trade"], stats["worst_trade"]) == ("300", "-120")
    assert stats["longest_losing_streak"] == 2
    assert stats["exposure_pct"] == 50.0  # 3 of 6 bars
    assert stats["fees_paid"] == "5.5"  # 1 per trade and 0.5 on the position still open


def test_a_run_without_trades_or_losing_days_says_which_figures_it_cannot_give():
    s = compute_stats(outcome([1000, 1000, 1000], [], final="1000"))

    assert s["trades"] == 0 and s["win_rate_pct"] is None and s["profit_factor"] is None
    assert s["max_drawdown_pct"] == 0 and s["max_drawdown_recovered_at"] is None
    assert s["sharpe"] is None and s["notes"]["sharpe"] == "daily returns do not vary"
    assert s["sortino"] is None and s["notes"]["sortino"] == "no losing day"
    assert s["calmar"] is None and s["notes"]["trades"] == "no closed trade"


def test_an_unrecovered_drawdown_runs_to_the_end():
    s = compute_stats(outcome([1000, 1100, 990, 1050], ["-10"]))

    assert s["max_drawdown_pct"] == 10.0
    assert s["max_drawdown_recovered_at"] is None
    assert s["max_drawdown_duration_s"] == 2 * 86400  # from the peak on Jan 3 to the end on Jan 5
    assert s["profit_factor"] == 0.0 and s["win_rate_pct"] == 0.0


def test_longest_run_and_duration_text():
    assert longest_run(np.array([True, True, False, True, True, True, False])) == 3
    assert longest_run(np.array([False, False])) == 0
    assert duration_text(3 * 86400 + 4 * 3600 + 10 * 60) == "3 d 4 h 10 min"
    assert duration_text(0) == "0 min"
