"""Liveness in a real browser, at 1440x900 and 390x844: frozen data greys itself with "stale since", a stopped
poller is a red banner, a lost connection is a banner on every page that clears on recovery, the receipt says when
it is out of date; on a phone the EMERGENCY STOP stays outside the menu and positions are cards without sideways
scrolling.

These tests run their own server (same database and port across restarts) so they can stop its poller and kill it.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import ARTIFACTS, TOKEN, app_env, log_in
from tests.support.servers import AppServer

pytestmark = pytest.mark.slow

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = ["/", "/trade", "/accounts", "/risk", "/audit", "/signals", "/backtests", "/emergency", "/alerts"]
# What a browser logs by itself when a request cannot reach the server: expected here, nothing else is.
_NETWORK_NOISE = tuple(f"Failed to load resource: net::ERR_{e}"
                       for e in ("FAILED", "CONNECTION_REFUSED", "EMPTY_RESPONSE", "CONNECTION_RESET"))


class LivenessServer(AppServer):
    """The app's server with quick staleness settings, started with or without its poller; it calls the API."""

    def __init__(self, tmp: Path):
        super().__init__(tmp, app_env(tmp, FETCH_TIMEOUT_SECONDS="2", LIVENESS_STOPPED_INTERVALS="2",
                                      RISK_STALE_AFTER_SECONDS="5"))

    def start(self, *, poller: bool = True) -> None:
        super().start(SCHEDULER_ENABLED="true" if poller else "false")

    def api(self, method: str, path: str, **kwargs):
        return requests.request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                                timeout=10, **kwargs)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    srv = LivenessServer(tmp_path_factory.mktemp("liveness-app"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def running(app_server):
    """The server, with its poller running and a fresh read of every account."""
    if app_server.proc is None:
        app_server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(a["status"] == "ok" for a in app_server.api("GET", "/api/snapshot").json()["accounts"]):
            return app_server
        time.sleep(0.5)
    pytest.fail("no fresh read of the accounts")


def _page(browser, srv: LivenessServer, viewport: dict):
    context = browser.new_context(viewport=viewport)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"{pg.url}: {m.text}")
          if m.type == "error" and not m.text.startswith(_NETWORK_NOISE) else None)
    pg.on("pageerror", lambda e: errors.append(f"{pg.url}: {e}"))  # an uncaught "Failed to fetch" lands here
    log_in(pg, srv.base)
    return context, pg, errors


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _open_position(srv: LivenessServer) -> None:
    ticket = {"account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy", "leverage": 2}
    preview = srv.api("POST", "/api/orders/preview", json=ticket | {"stop_loss": "1", "take_profit": "100000000"})
    mark = Decimal(preview.json()["entry_price"])
    response = srv.api("POST", "/api/orders", json=ticket | {
        "stop_loss": str((mark * Decimal("0.97")).quantize(Decimal("0.1"))),
        "take_profit": str((mark * Decimal("1.09")).quantize(Decimal("0.1")))})
    assert response.status_code in (201, 409), response.text  # 409: the limits are already used by auto-trading


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_stopped_poller_greys_figures_stale_since_and_raises_a_red_banner(browser, running, view):
    context, pg, errors = _page(browser, running, VIEWPORTS[view])
    try:
        pg.goto(running.base + "/")
        pg.wait_for_selector('.account-card[data-account="paper"][data-status="ok"]', timeout=20000)
        pg.wait_for_selector('#poller-heartbeat[data-state="running"]', timeout=20000)
        assert pg.locator("#poller-banner").is_hidden()

        running.stop()  # the poller dies with the server: while it is down the page says the connection is lost
        pg.wait_for_selector("#connection-banner:not(.d-none)", timeout=20000)
        assert "Connection lost since" in pg.inner_text("#connection-banner")
        _shot(pg, f"liveness-connection-lost-{view}")
        running.start(poller=False)  # back, but nobody polls: the figures only get older

        pg.wait_for_selector("#connection-banner.d-none", state="attached", timeout=20000)
        card = '.account-card[data-account="paper"]'
        pg.wait_for_selector(f"{card}.stale", timeout=20000)
        pg.wait_for_selector(f'{card}[data-status="stale"]', timeout=20000)  # the server's verdict, by age
        assert "stale since" in pg.inner_text(card)
        assert "ok" not in pg.inner_text(f"{card} .card-header .badge")
        pg.wait_for_selector("#poller-banner:not(.d-none)", timeout=20000)
        assert "Poller stopped: no poll cycle since" in pg.inner_text("#poller-banner")
        assert "STOPPED" in pg.inner_text("#poller-heartbeat")
        _shot(pg, f"liveness-stale-{view}")

        pg.goto(running.base + "/accounts")  # the Accounts page: no "ok" next to an old data age
        pg.wait_for_selector('#accounts-table tr[data-account="paper"][data-status="stale"]', timeout=20000)
        assert "stale since" in pg.inner_text('#accounts-table tr[data-account="paper"]')
        assert pg.locator("#poller-banner").is_visible()
        _shot(pg, f"liveness-accounts-stale-{view}")
    finally:
        running.stop()
        running.start()
        context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_connection_lost_banner_on_every_page_clears_on_recovery(browser, running, view):
    context, pg, errors = _page(browser, running, VIEWPORTS[view])
    try:
        for path in ("/", "/risk"):
            pg.goto(running.base + path)
            pg.wait_for_selector('#poller-heartbeat[data-state="running"], body', timeout=20000)
            pg.route("**/api/**", lambda route: route.abort())
            pg.wait_for_selector("#connection-banner:not(.d-none)", timeout=20000)
            text = pg.inner_text("#connection-banner")
            assert "Connection lost since" in text and "did not answer" in text
            if path == "/":  # no refresh comes: the figures on screen grey themselves once older than the limit
                card = '.account-card[data-account="paper"]'
                pg.wait_for_selector(f"{card}.stale-by-age", timeout=20000)
                assert "stale since" in pg.inner_text(f"{card} .age-note")
                assert "connection to the server lost" in pg.inner_text(f"{card} .age-note")
                assert pg.inner_text(f"{card} [data-live-status]") == "stale"
            _shot(pg, f"liveness-connection-lost{path.replace('/', '-') or '-dashboard'}-{view}")
            pg.unroute("**/api/**")
            pg.wait_for_selector("#connection-banner.d-none", state="attached", timeout=20000)
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_ticket_says_when_its_receipt_is_out_of_date(browser, running, view):
    context, pg, errors = _page(browser, running, VIEWPORTS[view])
    try:
        pg.goto(running.base + "/trade")
        pg.wait_for_function("() => document.querySelector('#receipt-status').textContent.startsWith('as of')",
                             timeout=20000)
        pg.route("**/api/orders/preview", lambda route: route.abort())
        pg.fill("#leverage", "3")
        pg.wait_for_function(
            "() => document.querySelector('#receipt-status').textContent.startsWith('out of date')", timeout=20000)
        assert "did not answer" in pg.inner_text("#receipt-status")
        assert pg.locator("#submit-order").is_disabled()
        _shot(pg, f"liveness-receipt-out-of-date-{view}")
        pg.unroute("**/api/orders/preview")
        pg.fill("#leverage", "2")
        pg.wait_for_function("() => document.querySelector('#receipt-status').textContent.startsWith('as of')",
                             timeout=20000)
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"


def test_phone_has_the_kill_switch_outside_the_menu_on_every_page(browser, running):
    context, pg, errors = _page(browser, running, VIEWPORTS["phone"])
    try:
        for path in PAGES:
            pg.goto(running.base + path)
            button = pg.locator("#emergency-button")
            assert button.is_visible(), f"{path}: EMERGENCY STOP hidden"
            assert pg.locator("#nav").is_hidden(), f"{path}: the menu should be collapsed"
            assert pg.locator("#demo-badge").is_visible() and pg.locator("#state-chip").is_visible(), path
            toggler = pg.locator(".navbar-toggler").bounding_box()
            assert abs(toggler["y"] - button.bounding_box()["y"]) < 20, f"{path}: the header wraps to two lines"
            if path == "/":
                pg.screenshot(path=str(ARTIFACTS / "liveness-phone-header.png"))
            pg.mouse.wheel(0, 3000)  # the header is sticky: still in sight after scrolling
            pg.wait_for_timeout(200)
            box = button.bounding_box()
            assert box is not None and box["y"] >= 0 and box["x"] + box["width"] <= 390, f"{path}: {box}"
        _shot(pg, "liveness-phone-scrolled")
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_positions_are_cards_on_a_phone_without_sideways_scrolling(browser, running, view):
    _open_position(running)
    context, pg, errors = _page(browser, running, VIEWPORTS[view])
    try:
        pg.goto(running.base + "/")
        pg.wait_for_selector("#positions-table tbody tr[data-symbol]", timeout=30000)
        row = pg.locator("#positions-table tbody tr[data-symbol]").first
        display = row.evaluate("(tr) => getComputedStyle(tr).display")
        labels = row.evaluate("(tr) => [...tr.cells].map((td) => td.dataset.label)")
        assert "Symbol" in labels and "uPnL (USDT)" in labels and "Stop-loss" in labels
        if view == "phone":
            assert display == "block" and pg.locator("#positions-table thead").is_hidden()
            assert row.locator("td[data-label='uPnL (USDT)']").is_visible()
            for path in ("/", "/accounts", "/trade"):
                pg.goto(running.base + path)
                pg.wait_for_timeout(1500)
                assert pg.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth"), path
            pg.goto(running.base + "/")
            pg.wait_for_selector("#positions-table tbody tr[data-symbol]", timeout=30000)
        else:
            assert display == "table-row"
        pg.wait_for_timeout(1500)  # the equity chart draws
        _shot(pg, f"liveness-positions-{view}")
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"


def test_stale_since_names_the_date_only_when_not_today(browser, running):
    context, pg, errors = _page(browser, running, VIEWPORTS["desktop"])
    try:
        today = pg.evaluate("() => RMLive.since(new Date(RMLive.serverNow()).toISOString())")
        old = pg.evaluate("() => RMLive.since('2020-01-02T03:04:05Z')")
        assert "2020" not in today and today.endswith("UTC") and len(today) <= len("00:00:00 UTC")
        assert "2020" in old and "03:04:05" in old and old.endswith("UTC")
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"


def test_receipt_older_than_the_limit_is_out_of_date_while_no_new_one_comes(browser, running):
    context, pg, errors = _page(browser, running, VIEWPORTS["desktop"])
    try:
        pg.goto(running.base + "/trade")
        pg.wait_for_function("() => document.querySelector('#receipt-status').textContent.startsWith('as of')",
                             timeout=20000)
        pg.route("**/api/orders/preview", lambda route: None)  # the refresh never answers
        pg.wait_for_function(  # the server's limit here is 5 s
            "() => document.querySelector('#receipt-status').textContent.includes('older than 5 s')", timeout=20000)
        assert pg.inner_text("#receipt-status").startswith("out of date")
        assert pg.locator("#submit-order").is_disabled() and "stale" in pg.get_attribute("#receipt", "class")
        _shot(pg, "liveness-receipt-too-old-desktop")
    finally:
        context.close()
    assert errors == [], f"console errors: {errors}"
