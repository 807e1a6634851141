"""Words and numbers in a real browser, at 1440x900 and at 390x844: no raw rule names, no long decimals, one date
format, typed dates read in the display zone, and the backtest tables fit without hiding Net P&L."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from riskmgr.core.labels import LIMIT_LABELS, RULE_LABELS
from tests.browser.conftest import ARTIFACTS, api, log_in, shot

pytestmark = pytest.mark.slow

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
RAW_NAMES = re.compile(r"\b(" + "|".join(sorted((n for n in {*RULE_LABELS, *LIMIT_LABELS} if "_" in n),
                                                 key=len, reverse=True)) + r")\b")
LONG_DECIMAL = re.compile(r"\d\.\d{7,}|\d{2,}\.\d{5,}")  # "9997.42893073", "2.04351" s; a 0.123456 price is fine
SLASH_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")  # the browser-locale format the pages used to show
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport_page(request, browser, server):
    """A logged-in page at one of the two viewports; the test must end without console errors."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"{pg.url}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"{pg.url}: {e}"))
    log_in(pg, server)
    pg.viewport_name = request.param
    yield pg
    context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.fixture(scope="module")
def trading_history(server):
    """A denied order (a rule in the audit log), an open position, and a finished backtest to show."""
    ticket = {"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy", "leverage": 2}
    deadline = time.monotonic() + 30
    while True:
        preview = api(server, "POST", "/api/orders/preview", json=ticket | {"stop_loss": "1", "take_profit": "1e9"})
        if preview.status_code == 200 and preview.json().get("entry_price"):
            break
        assert time.monotonic() < deadline, preview.text
        time.sleep(0.5)
    mark = Decimal(preview.json()["entry_price"])
    levels = {"stop_loss": str(int(mark * Decimal("0.97"))), "take_profit": str(int(mark * Decimal("1.09")))}
    denied = api(server, "POST", "/api/orders", json=ticket | levels | {"leverage": 100})
    assert denied.status_code == 409, denied.text
    opened = api(server, "POST", "/api/orders", json=ticket | levels)
    # the session's server is shared: earlier tests' losing closes may have started a cooldown, itself a denial
    assert opened.status_code == 201 or opened.json()["denied_by"], opened.text
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    span = {"start": f"{end - timedelta(days=4):%Y-%m-%d %H:%M}", "end": f"{end:%Y-%m-%d %H:%M}", "timezone": "UTC"}
    run = api(server, "POST", "/api/backtests", json={"preset": "conservative", **span})  # dates typed as the form does
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    deadline = time.monotonic() + 240
    while api(server, "GET", f"/api/backtests/{run_id}?trades_limit=0").json()["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the backtest did not finish"
        time.sleep(1)
    return {"run_id": run_id}


def _offences(text: str) -> dict[str, list[str]]:
    def around(pattern: re.Pattern) -> list[str]:  # each offence with its context, to find who wrote it
        return [text[max(m.start() - 40, 0):m.end() + 20].replace("\n", " ") for m in pattern.finditer(text)]

    found = {
        "raw rule names": around(RAW_NAMES),
        "long decimals": around(LONG_DECIMAL),
        "locale dates": around(SLASH_DATE),
        "ISO times": around(ISO_INSTANT),
    }
    return {k: sorted(set(v))[:10] for k, v in found.items() if v}


def _visible_text(pg) -> str:
    return pg.inner_text("main") + "\n" + pg.inner_text("#state-banner")


@pytest.mark.parametrize(("path", "ready"), [
    ("/", '.account-card[data-account="paper"][data-status="ok"]'),
    ("/risk", '#headroom tr[data-rule="data_fresh"]'),
    ("/audit", '#audit-table tbody tr[data-id]'),
    ("/backtests", '#bt-runs tbody tr[data-id]'),
    ("/trade", "#receipt-card"),
])
def test_pages_show_labels_and_rounded_figures_not_raw_names_or_long_decimals(
        viewport_page, server, trading_history, path, ready):
    pg = viewport_page
    pg.goto(server + path)
    pg.wait_for_selector(ready, state="attached", timeout=30000)
    pg.wait_for_load_state("networkidle")

    offences = _offences(_visible_text(pg))

    shot(pg, f"words-{path.strip('/') or 'dashboard'}-{pg.viewport_name}")
    assert offences == {}, f"{path} at {pg.viewport_name}: {offences}"


def test_dashboard_amounts_carry_units_and_two_decimals(viewport_page, server, trading_history):
    pg = viewport_page
    pg.goto(server + "/")
    pg.wait_for_selector('.account-card[data-account="paper"][data-status="ok"]', timeout=30000)

    figures = pg.inner_text('.account-card[data-account="paper"] dl')

    for label in ("Equity", "Available", "Margin used", "Unrealized P&L"):
        line = next(line for line in figures.splitlines() if line.startswith(label) or label in line)
        assert line, label
    assert re.search(r"Equity\s+[\d,]+\.\d{2} USDT", figures), figures
    assert re.search(r"Available\s+[\d,]+\.\d{2} USDT", figures), figures
    assert re.search(r"\d{2}:\d{2}:\d{2} UTC", pg.inner_text('.account-card[data-account="paper"]'))


def test_risk_limits_are_named_in_words_with_the_field_name_on_hover(viewport_page, server):
    pg = viewport_page
    pg.goto(server + "/risk")
    pg.wait_for_selector('#limits-table tr[data-field="max_leverage"]', timeout=30000)

    label = pg.locator('#limits-table tr[data-field="max_leverage"] label')

    assert label.inner_text() == "Maximum leverage"
    assert label.get_attribute("title") == "max_leverage"
    rule = pg.locator('#headroom tr[data-rule="data_fresh"] td').first.locator("span")
    assert rule.first.get_attribute("title") == "data_fresh"


def test_backtest_net_pnl_and_the_open_button_are_in_view_at_1440(browser, server, trading_history):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    pg = context.new_page()
    log_in(pg, server)
    pg.goto(server + "/backtests")
    run = trading_history["run_id"]
    pg.wait_for_selector(f'#bt-runs button[data-open="{run}"]', timeout=30000)

    open_button = pg.locator(f'#bt-runs button[data-open="{run}"]')
    runs_table = pg.locator("#bt-runs").evaluate("(t) => [t.parentElement.clientWidth, t.scrollWidth]")
    box = open_button.bounding_box()
    open_button.click()
    pg.wait_for_selector("#bt-trades tbody tr", timeout=30000)
    header = pg.locator("#bt-trades thead th", has_text="Net P&L")
    header.scroll_into_view_if_needed()
    net = header.bounding_box()
    wrap = pg.locator("#bt-trades").evaluate("(t) => [t.parentElement.clientWidth, t.scrollWidth]")

    shot(pg, "words-backtest-trades-desktop")
    context.close()
    assert runs_table[1] <= runs_table[0], f"the past-runs table scrolls sideways: {runs_table}"
    assert box is not None and box["x"] + box["width"] <= VIEWPORTS["desktop"]["width"]
    assert wrap[1] <= wrap[0], f"the trades table scrolls sideways: {wrap}"
    assert net is not None and net["x"] + net["width"] <= VIEWPORTS["desktop"]["width"]


def test_format_helpers_round_decimal_strings_as_text_and_say_times_one_way(page):
    results = page.evaluate("""() => ({
        equity: FMT.usdt("9997.42893073"),
        big: FMT.decimal("123456789012345678.995", 2),
        negative: FMT.decimal("-0.004", 2),
        tick: FMT.price("0.523449", "0.0001"),
        qty: FMT.qty("0.500"),
        age: FMT.duration(2.04351),
        minutes: FMT.duration(720),
        when: FMT.dateTime("2026-12-02T14:40:53Z"),
        parsed: FMT.parseInput("2026-12-02 14:40"),
        bad: FMT.parseInput("02/12/2026"),
        impossible: FMT.parseInput("2026-02-30 10:00"),
        gaps: FMT.gapped([{x: 0, y: 1}, {x: 1000, y: 2}, {x: 60000, y: 3}], 3000).map((p) => p.y),
        rule: FMT.ruleLabel("max_leverage"),
    })""")

    assert results == {
        "equity": "9,997.43 USDT", "big": "123,456,789,012,345,679.00", "negative": "0.00", "tick": "0.5234",
        "qty": "0.5", "age": "2.0 s", "minutes": "12 min", "when": "2026-12-02 14:40:53 UTC",
        "parsed": "2026-12-02T14:40:00.000Z", "bad": None, "impossible": None, "gaps": [1, 2, None, 3],
        "rule": "Maximum leverage",
    }


def test_audit_dates_are_typed_in_one_format_and_a_wrong_one_is_named(page, server, trading_history):
    page.goto(server + "/audit")
    page.wait_for_selector("#audit-table tbody tr[data-id]", timeout=30000)
    assert page.get_attribute("#f-since", "type") == "text"

    page.fill("#f-since", "12/02/2026")
    page.click("#audit-filters button[type=submit]")

    assert "YYYY-MM-DD HH:MM:SS" in page.inner_text("#audit-error")
    page.fill("#f-since", "2000-01-01 00:00")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("() => document.querySelector('#audit-error').textContent === ''")
    page.wait_for_selector("#audit-table tbody tr[data-id]", timeout=30000)


def test_equity_chart_names_its_units_spans_the_chosen_window_and_breaks_at_gaps(page, server):
    page.goto(server + "/")
    page.wait_for_function("() => { const c = Chart.getChart(document.getElementById('equity-chart'));"
                           " return c && c.data.datasets.length > 0; }", timeout=30000)

    chart = page.evaluate("""() => { const c = Chart.getChart(document.getElementById('equity-chart'));
        const d = c.data.datasets[0];
        const radii = Array.isArray(d.pointRadius) ? d.pointRadius : [d.pointRadius];
        const drawn = d.data.length > 1 ? d.data.length : radii.filter((r) => r > 0).length;
        return {span: c.scales.x.max - c.scales.x.min, y: c.options.scales.y.title.text, spanGaps: d.spanGaps, drawn,
                tick: c.options.scales.x.ticks.callback(Date.parse('2026-12-02T14:40:53Z'))}; }""")

    assert abs(chart["span"] - 3600 * 1000) < 60 * 1000, chart
    assert chart["y"] == "equity (USDT)" and chart["spanGaps"] is False and chart["drawn"] >= 1, chart
    assert chart["tick"] == "14:40", chart
