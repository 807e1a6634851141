"""The Backtests page and API: start a run, follow it, read and export the result, presets, datasets, errors."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.orm import Session

from riskmgr.backtest.models import BacktestRun
from riskmgr.backtest.service import BacktestService
from tests.conftest import csrf_from, login

RANGE = {"start": "2026-11-10T00:00", "end": "2026-11-14T00:00", "timezone": "UTC"}


def start(api, runtime, **body):
    res = api.post("/api/backtests", json=body)
    assert res.status_code == 202, res.get_json()
    runtime.feature(BacktestService).wait(res.get_json()["id"])
    return res.get_json()["id"]


def test_a_run_is_accepted_then_finishes_with_stats_trades_and_charts(api, runtime):
    seen = []
    runtime.events.subscribe(seen.append)

    res = api.post("/api/backtests", json={"preset": "conservative", **RANGE})
    run_id = res.get_json()["id"]
    runtime.feature(BacktestService).wait(run_id)
    run = api.get(f"/api/backtests/{run_id}?trades_limit=5").get_json()

    assert res.status_code == 202 and res.get_json()["url"] == f"/api/backtests/{run_id}"
    assert (run["status"], run["progress"], run["preset"]) == ("done", 100, "conservative")
    result = run["result"]
    for key in ("total_return_pct", "cagr_pct", "max_drawdown_pct", "max_drawdown_duration_s", "sharpe", "sortino",
                "calmar", "win_rate_pct", "profit_factor", "expectancy", "exposure_pct", "trades",
                "longest_losing_streak", "fees_paid"):
        assert key in result["stats"]
    assert result["stats"]["start"] == "2026-11-10T00:00:00+00:00" and result["stats"]["bars"] == 4 * 96
    assert result["trades"]["total"] == result["stats"]["trades"] and len(result["trades"]["rows"]) <= 5
    assert len(result["curve"]["t"]) == len(result["curve"]["equity"]) == len(result["curve"]["drawdown_pct"]) > 0
    assert result["data"]["simulated"] is True and result["data"]["warmup_bars"] == 1604
    [event] = [e for e in seen if e.kind == "backtest.finished"]
    assert event.data["run_id"] == run_id and event.data["status"] == "done"


def test_the_sma_reference_preset_runs_with_its_own_settings(api, runtime):
    run_id = start(api, runtime, preset="sma_reference", **RANGE)

    run = api.get(f"/api/backtests/{run_id}").get_json()

    assert run["strategy"] == "sma_cross" and run["symbol"] == "ETH/USDT:USDT"
    assert run["params"]["sma_fast"] == 10 and run["params"]["commission_pct"] == "0"
    assert run["result"]["stats"]["trades"] > 0 and run["result"]["denials"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"capital": "-100"}, "capital"),
        ({"symbol": "NOPE/USDT:USDT"}, "symbol"),
        ({"preset": "sma_reference", "sma_fast": 30, "sma_slow": 20}, "sma_slow"),
        ({"taker_fee_pct": "11"}, "taker_fee_pct"),
        ({"start": "2026-11-14T00:00"}, "end"),
        ({"preset": "yolo"}, "preset"),
        ({"limits": {"risk_per_trade_pct": "80"}}, "limits.risk_per_trade_pct"),
        ({"source": "csv"}, "dataset_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_queues_nothing(api, body, field):
    res = api.post("/api/backtests", json={"preset": "conservative", **RANGE, **body})

    assert res.status_code == 400
    assert res.get_json()["detail"]["field"] == field
    assert api.get("/api/backtests").get_json()["runs"] == []


def test_runs_are_listed_newest_first_with_their_headline_figures(api, runtime):
    first = start(api, runtime, preset="sma_reference", **RANGE)
    second = start(api, runtime, preset="conservative", **RANGE)

    runs = api.get("/api/backtests").get_json()["runs"]

    assert [r["id"] for r in runs] == [second, first]
    assert set(runs[0]["summary"]) == {"total_return_pct", "max_drawdown_pct", "sharpe", "trades", "win_rate_pct",
                                       "final_equity"}


def test_exports_give_every_trade_as_csv_and_the_whole_run_as_json(api, runtime):
    run_id = start(api, runtime, preset="sma_reference", **RANGE)
    trades = api.get(f"/api/backtests/{run_id}").get_json()["result"]["stats"]["trades"]

    csv_res = api.get(f"/api/backtests/{run_id}/export.csv")
    equity_res = api.get(f"/api/backtests/{run_id}/export.csv?what=equity")
    json_res = api.get(f"/api/backtests/{run_id}/export.json")

    lines = csv_res.get_data(as_text=True).splitlines()
    assert csv_res.mimetype == "text/csv" and "attachment" in csv_res.headers["Content-Disposition"]
    assert lines[0].startswith("n,side,entry_time,entry_price,qty,exit_time") and len(lines) == trades + 1
    assert equity_res.get_data(as_text=True).startswith("time,equity,drawdown_pct\n")
    assert len(json_res.get_json()["result"]["trades"]["rows"]) == trades
    assert api.get(f"/api/backtests/{run_id}/export.csv?what=orders").status_code == 400


def test_a_finished_run_can_be_deleted_and_a_missing_one_is_a_clear_error(api, runtime):
    run_id = start(api, runtime, preset="sma_reference", **RANGE)

    assert api.delete(f"/api/backtests/{run_id}").status_code == 200
    missing = api.get(f"/api/backtests/{run_id}")
    assert missing.status_code == 400 and missing.get_json()["detail"]["message"] == f"no backtest run #{run_id}"


def test_a_run_whose_worker_stopped_reporting_is_shown_failed(api, runtime, clock):
    run_id = start(api, runtime, preset="sma_reference", **RANGE)
    with Session(runtime.engine) as session, session.begin():
        row = session.get(BacktestRun, run_id)
        row.status, row.heartbeat_at = "running", clock.now()  # as if its worker had died mid-run
    clock.advance(minutes=4)

    run = api.get(f"/api/backtests/{run_id}").get_json()

    assert run["status"] == "failed" and "the worker stopped reporting" in run["error"]


def test_saved_presets_are_listed_used_and_deleted(api, runtime):
    body = {"name": "my tight", "description": "tighter drawdown", "base": "conservative",
            "params": {"strategy": "signals", "leverage": 2, "limits": {"max_drawdown_pct": "4.5"}}}

    created = api.post("/api/backtests/presets", json=body)
    names = [p["name"] for p in api.get("/api/backtests/presets").get_json()["presets"]]
    run_id = start(api, runtime, preset="my tight", **RANGE)
    params = api.get(f"/api/backtests/{run_id}").get_json()["params"]
    deleted = api.delete("/api/backtests/presets/my tight")

    assert created.status_code == 201 and "my tight" in names
    assert params["leverage"] == 2 and params["limits"]["max_drawdown_pct"] == "4.5"
    assert deleted.status_code == 200
    assert api.delete("/api/backtests/presets/my tight").status_code == 400


def test_a_preset_cannot_take_a_built_in_name_or_invalid_settings(api):
    clash = api.post("/api/backtests/presets", json={"name": "conservative", "params": {}})
    bad = api.post("/api/backtests/presets", json={"name": "x", "params": {"capital": "0"}})

    assert clash.status_code == 400 and "built-in preset" in clash.get_json()["detail"]["message"]
    assert bad.status_code == 400 and bad.get_json()["detail"]["field"] == "capital"


def test_a_csv_upload_is_checked_stored_and_can_be_backtested(api, runtime):
    start_ms = 1_762_732_800_000  # 2025-11-10 00:00 UTC
    rows = [f"{start_ms + k * 3_600_000},{100 + k % 7},{102 + k % 7},{99 + k % 7},{101 + k % 7},5" for k in range(300)]
    del rows[100:103]
    raw = ("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n").encode()

    res = api.post("/api/backtests/datasets", data={"file": (io.BytesIO(raw), "bars.csv"), "symbol": "ETH/USDT:USDT",
                                                    "timeframe": "1h"}, content_type="multipart/form-data")
    dataset = res.get_json()
    run_id = start(api, runtime, preset="sma_reference", source="csv", dataset_id=dataset["id"], timeframe="1h",
                   start="2025-11-10T00:00", end="2025-11-22T12:00", timezone="UTC")
    result = api.get(f"/api/backtests/{run_id}").get_json()["result"]

    assert res.status_code == 201 and dataset["bars"] == 297 and dataset["name"] == "bars.csv"
    gaps = dataset["gaps"]
    assert gaps["count"] == 1 and gaps["missing_bars"] == 3 and gaps["first"][0]["line"] == 102
    assert result["data"]["note"] == "uploaded CSV" and result["data"]["gaps"]["count"] == 1


def test_a_bad_csv_is_rejected_with_the_line_and_the_reason(api):
    raw = b"time,open,high,low,close,volume\n1762732800000,1,2,0.5,1.5,1\n1762732800000,1,2,0.5,1.5,1\n"

    res = api.post("/api/backtests/datasets", data={"file": (io.BytesIO(raw), "bad.csv"), "symbol": "ETH/USDT:USDT",
                                                    "timeframe": "1h"}, content_type="multipart/form-data")

    assert res.status_code == 400
    assert res.get_json()["detail"]["message"].startswith("line 3: time 2025-11-10T00:00:00+00:00 is not after")


def test_options_list_presets_sources_and_every_risk_field_without_touching_an_exchange(api):
    opts = api.get("/api/backtests/options").get_json()

    names = [p["name"] for p in opts["presets"]]
    assert names[:5] == ["conservative", "balanced", "aggressive", "sma_reference", "live_limits"]
    assert opts["sources"][:2] == ["simulated", "csv"]
    assert "BTC/USDT:USDT" in opts["symbols"]["simulated"] and "binanceusdm" not in opts["symbols"]
    fields = {f["name"] for f in opts["limit_fields"]}
    assert fields >= {"risk_per_trade_pct", "max_drawdown_pct", "daily_loss_limit_pct"}


def test_the_page_needs_a_login_and_shows_the_form(client):
    assert client.get("/backtests").status_code == 302
    assert client.get("/api/backtests").status_code == 401

    login(client)
    page = client.get("/backtests").get_data(as_text=True)

    assert "Run backtest" in page and 'href="/backtests"' in page and "opens beyond the target takes the profit" in page


def test_a_session_write_needs_the_csrf_token(client):
    login(client)

    without = client.post("/api/backtests", json={"preset": "sma_reference", **RANGE})
    with_token = client.post("/api/backtests", json={"preset": "sma_reference", **RANGE},
                             headers={"X-CSRFToken": csrf_from(client, "/backtests")})

    assert without.status_code == 400 and without.get_json()["error"] == "csrf"
    assert with_token.status_code == 202



def test_the_equity_export_has_one_row_per_bar_not_the_charted_points(api, runtime, monkeypatch):
    monkeypatch.setattr("riskmgr.backtest.report.CHART_POINTS", 20)  # the chart keeps far fewer points than bars
    run_id = start(api, runtime, preset="sma_reference", **RANGE)
    run = api.get(f"/api/backtests/{run_id}").get_json()

    lines = api.get(f"/api/backtests/{run_id}/export.csv?what=equity").get_data(as_text=True).splitlines()

    bars = run["result"]["stats"]["bars"]
    assert "series" not in run["result"]
    assert len(run["result"]["curve"]["t"]) < bars
    assert lines[0] == "time,equity,drawdown_pct" and len(lines) == bars + 1
    first, last = lines[1].split(","), lines[-1].split(",")
    assert first[0] == "2026-11-10T00:15:00+00:00"  # the close of the first 15-minute bar
    assert last[0] == "2026-11-14T00:00:00+00:00"
    assert last[1] == run["result"]["stats"]["final_equity"] or float(last[1]) == pytest.approx(
        float(run["result"]["stats"]["final_equity"]), abs=1e-6)
    times = [line.split(",")[0] for line in lines[1:]]
    assert times == sorted(times) and len(set(times)) == bars
