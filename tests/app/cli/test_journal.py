"""``flask trades list`` and ``flask trades export --csv FILE``."""

from __future__ import annotations

import csv
import json

from tests.exchanges.conftest import BTC, ETH
from tests.journal.conftest import close_long, open_long


def trades(rt, market, clock) -> None:
    open_long(rt, market, clock, BTC, "50000", "0.01", "e1")
    close_long(rt, market, clock, BTC, "51000", "c1")
    open_long(rt, market, clock, ETH, "3000", "0.1", "e2")
    close_long(rt, market, clock, ETH, "2970", "c2", purpose="emergency-close")


def test_list_prints_each_trade_and_the_total(jrt, market, clock):
    trades(jrt, market, clock)

    result = jrt.app.test_cli_runner().invoke(args=["trades", "list"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "ETH/USDT:USDT long  exit 2970  P&L -3.2985 USDT (-1.10 %)  emergency" in lines[0]
    assert "2026-11-20" in lines[1] and "UTC" in lines[1] and "manual" in lines[1]
    assert lines[-1] == "2 trade(s), realized P&L 6.1965 USDT"


def test_list_filters_and_prints_json(jrt, market, clock):
    trades(jrt, market, clock)

    result = jrt.app.test_cli_runner().invoke(args=["trades", "list", "--symbol", BTC, "--json"])

    body = json.loads(result.output)
    assert [t["symbol"] for t in body["trades"]] == [BTC] and body["stats"]["totals"]["realized_pnl"] == "9.495"


def test_a_bad_filter_exits_non_zero_naming_the_field(jrt):
    result = jrt.app.test_cli_runner().invoke(args=["trades", "list", "--side", "sideways"])

    assert result.exit_code != 0 and "side" in result.output and "long, short" in result.output


def test_export_writes_the_csv_file(jrt, market, clock, tmp_path):
    trades(jrt, market, clock)
    path = tmp_path / "out.csv"

    result = jrt.app.test_cli_runner().invoke(args=["trades", "export", "--csv", str(path), "--reason", "manual"])

    assert result.exit_code == 0 and "wrote 1 trade(s)" in result.output
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [(r["symbol"], r["realized_pnl_usdt"]) for r in rows] == [(BTC, "9.495")]
