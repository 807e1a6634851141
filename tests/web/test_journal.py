"""GET /api/trades (JSON and CSV), its filters and their validation, the page, and the close-result call."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from tests.conftest import API_TOKEN, login
from tests.exchanges.conftest import BTC, ETH
from tests.journal.conftest import close_long, open_long

D = Decimal
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def two_trades(rt, market, clock) -> str:
    open_long(rt, market, clock, BTC, "50000", "0.01", "e1")
    close_long(rt, market, clock, BTC, "51000", "c1")
    open_long(rt, market, clock, ETH, "3000", "0.1", "e2")
    return close_long(rt, market, clock, ETH, "2970", "c2", purpose="emergency-close")


def get(rt, path):
    return rt.app.test_client().get(path, headers=AUTH)


def test_the_api_lists_trades_with_exact_figures_and_the_aggregations(jrt, market, clock):
    two_trades(jrt, market, clock)

    body = get(jrt, "/api/trades").get_json()

    assert body["complete"] is True and body["accounts"][0]["available"] is True
    eth, btc = body["trades"]
    assert (btc["symbol"], btc["entry_price"], btc["exit_price"], btc["realized_pnl"], btc["exit_reason"]) == (
        BTC, "50000", "51000", "9.495", "manual")
    # -3 realized; fees 0.15 (open) + 0.1485 (close)
    assert (eth["realized_pnl"], eth["fees"], eth["exit_reason"]) == ("-3.2985", "0.2985", "emergency")
    totals = body["stats"]["totals"]
    assert (totals["trades"], totals["wins"], totals["losses"], totals["realized_pnl"]) == (2, 1, 1, "6.1965")
    assert body["stats"]["periods"]["day"] == [{"period": "2026-11-20", "realized_pnl": "6.1965", "trades": 2,
                                                "wins": 1}]
    assert [p["realized_pnl"] for p in body["stats"]["cumulative"]] == ["9.495", "6.1965"]
    assert [s["symbol"] for s in body["stats"]["per_symbol"]] == [BTC, ETH]  # best first


def test_filters_are_applied_and_echoed(jrt, market, clock):
    two_trades(jrt, market, clock)

    body = get(jrt, "/api/trades?reason=emergency&account=paper").get_json()

    assert [t["symbol"] for t in body["trades"]] == [ETH]
    assert body["filter"]["reason"] == "emergency" and body["filter"]["account"] == "paper"


def test_bad_filters_answer_400_naming_the_field_and_what_is_allowed(jrt):
    cases = {
        "side=up": ("side", "long, short"),
        "reason=panic": ("reason", "stop, target"),
        "account=nobody": ("account", "paper"),
        "from=yesterday": ("from", "ISO 8601"),
        "from=2026-11-20T12:00:00Z&to=2026-11-19T12:00:00Z": ("from", "must be before"),
        "from=2024-01-01T00:00:00Z": ("from", "366 days"),
        "to=2030-01-01T00:00:00Z": ("to", "up to now"),
        "colour=red": ("colour", "allowed"),
        "format=xml": ("format", "json, csv"),
    }
    for query, (field, allowed) in cases.items():
        res = get(jrt, f"/api/trades?{query}")
        body = res.get_json()
        assert res.status_code == 400, query
        assert body["detail"]["field"] == field and allowed in body["detail"]["message"], (query, body)


def test_csv_export_has_one_row_per_trade_with_times_in_the_display_zone(jrt, market, clock):
    two_trades(jrt, market, clock)

    for path in ("/api/trades.csv", "/api/trades?format=csv"):
        res = get(jrt, path)
        rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
        assert res.mimetype == "text/csv" and "attachment" in res.headers["Content-Disposition"]
        assert [r["symbol"] for r in rows] == [ETH, BTC]
        assert rows[1]["realized_pnl_usdt"] == "9.495" and rows[1]["exit_reason"] == "manual"
        assert rows[1]["exit_time (UTC)"].endswith("+00:00")


def test_csv_marks_an_unreadable_account_instead_of_pretending_it_had_no_trades(jrt, monkeypatch):
    from riskmgr.core.errors import TemporaryError

    def down():
        raise TemporaryError("venue unreachable", account="paper", operation="sync")

    monkeypatch.setattr(jrt.specs.adapter("paper"), "sync", down)

    text = get(jrt, "/api/trades.csv").get_data(as_text=True)
    body = get(jrt, "/api/trades").get_json()

    assert "# paper: history unavailable since" in text and "venue unreachable" in text
    assert body["complete"] is False and body["accounts"][0]["trades"] is None


def test_the_api_needs_a_login_or_the_token(jrt):
    assert jrt.app.test_client().get("/api/trades").status_code == 401


def test_the_journal_page_renders_for_a_logged_in_user_with_its_nav_link(jrt):
    client = jrt.app.test_client()
    login(client)

    page = client.get("/journal").get_data(as_text=True)

    assert 'id="trades-table"' in page and 'id="period-chart"' in page and "js/journal.js" in page
    assert 'href="/journal"' in page


def test_close_result_gives_the_fill_price_and_realized_pnl_of_a_close(jrt, market, clock):
    client_id = two_trades(jrt, market, clock)

    done = get(jrt, f"/api/trades/close-result?account=paper&client_id={client_id}").get_json()
    pending = get(jrt, "/api/trades/close-result?account=paper&client_id=rmnotsentyet").get_json()

    assert (done["status"], done["fill_price"], done["qty"], done["realized_pnl"]) == ("filled", "2970", "0.1",
                                                                                       "-3.2985")
    assert pending["status"] == "pending" and pending["fill_price"] is None and pending["realized_pnl"] is None


def test_the_emergency_panel_lists_each_close_with_its_fill_price_and_realized_pnl(jrt, market, clock):
    from riskmgr.risk.emergency.feature import service

    open_long(jrt, market, clock, BTC, "50000", "0.01", "e1")
    market.price(BTC, "49500")
    emergency = service(jrt)
    seq = emergency.start("test: flatten", actor="tester", trigger="manual").id
    emergency.wait(seq, timeout=30)

    body = get(jrt, "/api/emergency-stop/closes").get_json()
    client = jrt.app.test_client()
    login(client)
    page = client.get("/emergency").get_data(as_text=True)

    [close] = body["closes"]
    # -5 realized; fees 0.25 (open) + 0.2475 (close)
    assert (body["id"], close["symbol"], close["status"], close["fill_price"], close["realized_pnl"]) == (
        seq, BTC, "filled", "49500", "-5.4975")
    assert 'id="em-closes"' in page and "js/emergency_closes.js" in page
