"""Every page works in a real browser under the strict Content-Security-Policy: not one violation, reported either in
the console or as a `securitypolicyviolation` event, while each page loads and renders its data at 1440×900."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

from riskmgr.web.security import CONTENT_SECURITY_POLICY
from tests.browser.conftest import api, log_in, shot

pytestmark = pytest.mark.slow

# Runs in every document before its own scripts: records each violation the browser reports into the window.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} refused ${e.blockedURI || "inline"} in ${e.sourceFile || "?"}`
    + `:${e.lineNumber} (${e.sample || ""})`);
}, true);
"""
CSP_WORDS = re.compile(r"content.security.policy|securitypolicyviolation", re.IGNORECASE)
NOT_LOADING = "(sel) => { const el = document.querySelector(sel); return !!el && !/loading/i.test(el.innerText); }"
WAIT = 30000
SYMBOL = "BTC/USDT:USDT"


class Watch:
    """The console messages mentioning the policy, script errors and the violation events, per page."""

    def __init__(self, pg) -> None:
        self.pg = pg
        self.problems: list[str] = []
        self.allowed_errors: list[str] = []
        pg.on("console", self._console)
        pg.on("pageerror", lambda e: self.problems.append(f"{pg.url}: script error {e}"))

    def _console(self, message) -> None:
        if CSP_WORDS.search(message.text):
            self.problems.append(f"{self.pg.url}: console {message.type}: {message.text}")
        elif message.type == "error" and not any(a in message.text for a in self.allowed_errors):
            self.problems.append(f"{self.pg.url}: console error: {message.text}")

    def visit(self, url: str):
        response = self.pg.goto(url)
        assert response is not None, url
        assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, url
        return response

    def check(self, name: str) -> None:
        """Collect the violations the page recorded so far, then save a screenshot."""
        events = self.pg.evaluate("window.__cspViolations || []")
        self.problems += [f"{self.pg.url}: securitypolicyviolation {e}" for e in events]
        shot(self.pg, "csp-" + name)


def _wait_until_done(server: str, path: str, done, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api(server, "GET", path).json()
        if done(body):
            return body
        time.sleep(0.5)
    pytest.fail(f"{path} did not finish: {body}")


def _prepare(server: str) -> list[int]:
    """An open paper position (rows in the tables) and two finished backtest runs (the run view and comparison)."""
    _wait_until_done(server, "/api/snapshot", lambda b: b["accounts"][0]["status"] == "ok", timeout=60)
    market = next(m for m in api(server, "GET", "/api/markets").json()["markets"] if m["symbol"] == SYMBOL)
    mark, tick = Decimal(market["mark"]), Decimal(market["price_tick"])
    order = api(server, "POST", "/api/orders", json={  # sized from the stop by the risk per trade; 2.5:1
        "account": "paper", "symbol": SYMBOL, "type": "market", "side": "buy", "leverage": 2,
        "stop_loss": str((mark * Decimal("0.985")).quantize(tick)),
        "take_profit": str((mark * Decimal("1.0375")).quantize(tick))})
    assert order.status_code == 201, order.text
    runs = []
    for preset in ("conservative", "sma_reference"):
        started = api(server, "POST", "/api/backtests", json={"preset": preset})
        assert started.status_code == 202, started.text
        runs.append(started.json()["id"])
    for run_id in runs:
        run = _wait_until_done(server, f"/api/backtests/{run_id}", lambda b: b["status"] in ("done", "failed"))
        assert run["status"] == "done", run
    return runs


def _dashboard(w: Watch, server: str) -> None:
    w.visit(server + "/")
    w.pg.wait_for_selector('.account-card[data-account="paper"][data-status="ok"]', timeout=WAIT)
    w.pg.wait_for_function(NOT_LOADING, arg="#refresh-status", timeout=WAIT)
    w.pg.click("#emergency-button")  # a Bootstrap modal: it styles itself through the CSSOM, which the policy allows
    w.pg.wait_for_selector("#emergency-modal.show", timeout=WAIT)
    w.pg.wait_for_function("() => !/Checking/.test(document.querySelector('#emergency-exposure').innerText)",
                           timeout=WAIT)
    w.pg.click("#emergency-modal [data-bs-dismiss=modal].btn-secondary")
    w.pg.wait_for_selector("#emergency-modal", state="hidden", timeout=WAIT)
    w.check("dashboard")


def _trade(w: Watch, server: str) -> None:
    w.visit(server + "/trade")
    w.pg.click("#default-protection")
    w.pg.wait_for_function("() => document.querySelector('#receipt').innerText.trim() !== ''", timeout=WAIT)
    w.pg.wait_for_selector(f"#trade-positions tbody tr:has-text('{SYMBOL}')", timeout=WAIT)
    w.check("trade")


def _risk(w: Watch, server: str) -> None:
    w.visit(server + "/risk")
    w.pg.wait_for_selector("#headroom .card[data-account]", timeout=WAIT)
    w.pg.wait_for_function(NOT_LOADING, arg="#limits-table", timeout=WAIT)
    bars = w.pg.eval_on_selector_all(
        "#headroom .progress-bar[data-pct]", "els => els.map(e => [e.dataset.pct + '%', e.style.width])")
    assert bars and all(want == got for want, got in bars), f"headroom bars not sized through the CSSOM: {bars}"
    w.check("risk")


def _audit(w: Watch, server: str) -> None:
    w.visit(server + "/audit")
    w.pg.wait_for_function(NOT_LOADING, arg="#audit-summary", timeout=WAIT)
    w.pg.wait_for_selector("#audit-table tbody tr:not(:has-text('Loading'))", timeout=WAIT)
    w.check("audit")


def _accounts(w: Watch, server: str) -> None:
    w.visit(server + "/accounts")
    w.pg.wait_for_function(NOT_LOADING, arg="#accounts-status", timeout=WAIT)
    w.pg.wait_for_selector("#accounts-table tbody tr:has-text('paper')", timeout=WAIT)
    w.check("accounts")


def _signals(w: Watch, server: str) -> None:
    w.visit(server + "/signals")
    w.pg.wait_for_function(NOT_LOADING, arg="#auto-trading", timeout=WAIT)
    w.pg.wait_for_function(  # the page starts a scan when none has run yet
        "() => document.querySelector('#scan-progress').classList.contains('d-none')"
        " && !/No scan has run yet/.test(document.querySelector('#signals-table tbody').innerText)", timeout=120000)
    if not w.pg.locator("#signals-table .chart-btn").count():
        # no signal in the simulated market: add a Chart button like the table's own (built through the DOM) so the
        # price and RSI charts with the annotation plugin are drawn under the policy all the same
        w.pg.evaluate("""(symbol) => {
            const b = document.createElement("button");
            b.className = "btn btn-sm chart-btn"; b.type = "button"; b.dataset.symbol = symbol; b.textContent = "Chart";
            document.querySelector("#signals-table tbody").append(b);
        }""", SYMBOL)
    w.pg.locator("#signals-table .chart-btn").first.click()
    w.pg.wait_for_function("() => /·/.test(document.querySelector('#chart-title').innerText)"
                           " && !/loading/.test(document.querySelector('#chart-title').innerText)", timeout=WAIT)
    w.pg.wait_for_timeout(500)  # let Chart.js draw
    w.pg.click("[data-bs-target='#rejected-box']")  # a Bootstrap collapse animates its height through the CSSOM
    w.pg.wait_for_selector("#rejected-box.show", timeout=WAIT)
    w.check("signals")


def _backtests(w: Watch, server: str, runs: list[int]) -> None:
    w.visit(server + "/backtests")
    w.pg.wait_for_function("() => document.querySelector('#bt-preset').options.length > 0", timeout=WAIT)
    w.pg.wait_for_selector(f"#bt-runs button[data-open='{runs[0]}']", timeout=WAIT)
    w.pg.click(f"#bt-runs button[data-open='{runs[0]}']")  # the finished run's view: stats, three charts, tables
    w.pg.wait_for_selector("#bt-result-card:not(.d-none)", timeout=WAIT)
    w.pg.wait_for_function("() => document.querySelector('#bt-stats').innerText.trim() !== ''", timeout=WAIT)
    w.pg.check(f"#bt-runs input[name=cmp-a][value='{runs[0]}']")
    w.pg.check(f"#bt-runs input[name=cmp-b][value='{runs[1]}']")
    w.pg.click("#bt-compare")
    w.pg.wait_for_selector("#bt-compare-card:not(.d-none)", timeout=WAIT)
    w.pg.wait_for_timeout(500)  # let Chart.js draw
    w.check("backtests")


def _alerts(w: Watch, server: str) -> None:
    w.visit(server + "/alerts")
    w.pg.wait_for_function(NOT_LOADING, arg="#alerts-refresh", timeout=WAIT)
    w.pg.wait_for_function(NOT_LOADING, arg="#alerts-channels", timeout=WAIT)
    w.check("alerts")


def _emergency(w: Watch, server: str) -> None:
    """Run a stop through the API so the panel renders its steps, orders and history, then re-arm."""
    started = api(server, "POST", "/api/emergency-stop", json={"reason": "browser CSP test"})
    assert started.status_code == 202, started.text
    try:
        _wait_until_done(server, "/api/emergency-stop", lambda b: not b["running"], timeout=90)
        w.visit(server + "/emergency")
        w.pg.wait_for_function(NOT_LOADING, arg="#em-status", timeout=WAIT)
        w.pg.wait_for_function("() => document.querySelectorAll('#em-steps tbody tr').length === 6", timeout=WAIT)
        w.pg.wait_for_function(
            "() => document.querySelector('#em-progress-bar').style.width === '100%'", timeout=WAIT)
        w.pg.wait_for_timeout(800)  # Bootstrap animates the width
        w.check("emergency")
    finally:
        rearmed = api(server, "POST", "/api/rearm", json={"reason": "browser CSP test done"})
        assert rearmed.status_code == 200, rearmed.text


def test_every_page_renders_its_data_without_a_content_security_policy_violation(browser, server):
    runs = _prepare(server)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    pg = context.new_page()
    w = Watch(pg)
    try:
        w.visit(server + "/login")
        pg.wait_for_selector("#password")
        w.check("login")
        log_in(pg, server)
        for step in (_dashboard, _trade, _risk, _audit, _accounts, _signals, _alerts, _emergency):
            step(w, server)
        _backtests(w, server, runs)
        w.allowed_errors.append("404")  # the browser logs the 404 status itself; the page must still be clean
        assert w.visit(server + "/no-such-page").status == 404
        w.check("error-page")
    finally:
        context.close()

    assert w.problems == [], "\n".join(w.problems)
