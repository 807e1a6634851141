"""``flask backtest run`` prints the statistics; bad input exits 1 with a one-line reason."""

from __future__ import annotations

import json

RANGE = ["--start", "2026-11-10T00:00", "--end", "2026-11-13T00:00"]


def test_run_prints_the_statistics_and_stores_the_run(runner, api):
    result = runner.invoke(args=["backtest", "run", "--preset", "sma_reference", *RANGE])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("backtest #1: sma_cross on ETH/USDT:USDT 15m (simulated market (DEMO))")
    for label in ("total return", "max drawdown", "Sharpe", "win rate", "profit factor", "fees paid", "final equity"):
        assert f"  {label}" in result.output
    assert api.get("/api/backtests").get_json()["runs"][0]["actor"] == "cli"


def test_options_and_set_override_the_preset(runner):
    result = runner.invoke(args=["backtest", "run", "--preset", "conservative", "--symbol", "ETH/USDT:USDT",
                                 "--timeframe", "1h", "--capital", "5000", "--set", "limits.max_drawdown_pct=8",
                                 "--set", "signal.indicators.htf_factor=2", "--json", *RANGE])

    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)["stats"]
    assert stats["capital"] == "5000" and stats["bars"] == 72


def test_bad_input_exits_1_with_a_one_line_reason_naming_the_setting(runner):
    negative = runner.invoke(args=["backtest", "run", "--preset", "conservative", "--capital", "-5", *RANGE])
    unknown = runner.invoke(args=["backtest", "run", "--preset", "nope", *RANGE])
    bad_set = runner.invoke(args=["backtest", "run", "--preset", "conservative", "--set", "max_drawdown", *RANGE])
    empty = runner.invoke(args=["backtest", "run", "--preset", "conservative", "--start", "2026-11-13T00:00",
                                "--end", "2026-11-13T00:00"])

    assert negative.exit_code == 1 and negative.output == "Error: capital: -5 USDT must be above 0\n"
    assert unknown.exit_code == 1 and unknown.output.startswith("Error: preset: 'nope' is not a preset; one of ")
    assert bad_set.exit_code == 1 and "write KEY=VALUE" in bad_set.output
    assert empty.exit_code == 1 and empty.output.startswith("Error: end: the range is empty")
    for result in (negative, unknown, bad_set, empty):
        assert result.output.count("\n") == 1


def test_presets_lists_the_built_in_presets(runner):
    result = runner.invoke(args=["backtest", "presets"])

    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [
        "conservative", "balanced", "aggressive", "sma_reference", "live_limits"]
