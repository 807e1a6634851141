"""Signals page in a real browser at 1440x900 and 390x844: a signal auto-trading already denied keeps a usable Trade
button that opens the ticket with its levels re-centred on the current mark; after the trade the same signal says
why it cannot be traded now (its position is open) instead of a stale status."""

from __future__ import annotations

import re
import subprocess
import time
from decimal import Decimal

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ROOT, api, app_env, log_in, shot
from tests.support.servers import VENV_BIN, serving, wait_until

pytestmark = pytest.mark.slow

DOGE = "DOGE/USDT:USDT"
START = "2026-11-20T12:00:05+00:00"  # 5 s after the bar close on which the simulated market gives a DOGE long
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """The app under gunicorn on a clock starting at START; no scheduled scan during the test (SIGNAL_SECONDS=3600).

    Yields (base URL, environment) so the test can run ``flask signals scan --auto-trade`` against the same app.
    """
    tmp = tmp_path_factory.mktemp("signals-app")
    env = app_env(tmp, SIGNAL_SECONDS="3600", RISKMGR_TEST_CLOCK_START=START,
                  RISKMGR_TEST_CLOCK_ANCHOR=repr(time.time()))  # one time for all
    with serving(tmp, env, wsgi="tests.browser.shifted_wsgi:app") as srv:
        yield srv.base, srv.env | {"FLASK_APP": "tests.browser.shifted_wsgi:app"}


def _wait(ok, seconds: float, why=lambda: "") -> None:
    if not wait_until(ok, seconds, 0.3):
        pytest.fail(f"timed out: {why()}")


def _doge(server: str) -> dict:
    data = api(server, "GET", "/api/signals").json()
    return next(s for s in data["signals"] + data["dropped"] if s["symbol"] == DOGE)


def _new_page(browser, server: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"{pg.url}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"{pg.url}: {e}"))
    log_in(pg, server)
    return context, pg, errors


def _denied_by_auto_trading(server: str, env: dict) -> dict:
    """Let auto-trading decide the DOGE signal while trading is HALTED (the gate denies it), then re-arm."""
    _wait(lambda: any(a["status"] == "ok" for a in api(server, "GET", "/api/snapshot").json()["accounts"]), 30,
          lambda: "no account snapshot")
    halt = api(server, "POST", "/api/emergency-stop", json={"reason": "browser test: auto-trading must be denied"})
    assert halt.status_code == 202, halt.text
    _wait(lambda: api(server, "GET", "/api/risk").json()["trading_state"]["state"] == "HALTED", 30)
    scan = subprocess.run([str(VENV_BIN / "flask"), "signals", "scan", "--auto-trade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert scan.returncode == 0, scan.stdout + scan.stderr
    rearm = api(server, "POST", "/api/rearm", json={"reason": "browser test: trade the denied signal by hand"})
    assert rearm.status_code == 200, rearm.text
    row = _doge(server)
    assert row["status"] == "denied" and row["decisions"][0]["decision"] == "denied", row
    return row


def _wait_for_submit(pg, name: str, receipt_says: str = "") -> None:
    """Wait until the ticket's submit is enabled (and its receipt says ``receipt_says``); fail saying what it showed."""
    try:
        pg.wait_for_function(
            "(says) => !document.querySelector('#submit-order').disabled"
            " && document.querySelector('#receipt').innerText.includes(says)", arg=receipt_says, timeout=30000)
    except PlaywrightTimeout:
        shot(pg, f"trade-from-signal-{name}-blocked")
        pytest.fail(f"the ticket's submit stayed disabled or its receipt lacks {receipt_says!r}: "
                    f"{pg.inner_text('#submit-why')!r}; receipt {pg.inner_text('#receipt-status')!r}: "
                    f"{pg.inner_text('#receipt')[:1500]!r}")


def _open_ticket_from_signal(pg, server: str, name: str) -> str:
    """From the Signals page, click the denied signal's Trade button; return the ticket's stop-loss value."""
    pg.goto(server + "/signals")
    row = pg.locator(f'#signals-table tr[data-symbol="{DOGE}"]')
    row.locator(".signal-now").wait_for(timeout=20000)
    assert row.locator(".signal-now").get_attribute("data-allowed") == "true", row.inner_text()
    assert "denied" in row.inner_text()
    assert "win rate: no history" in row.inner_text()  # the quality score names its missing part
    button = row.locator("a.trade-btn")
    button.scroll_into_view_if_needed()
    shot(pg, f"signals-denied-tradable-{name}")
    button.click()
    pg.wait_for_url(re.compile(r".*/trade\?.*signal=.*"), timeout=20000)
    pg.wait_for_selector('#signal-note[data-allowed="true"]', timeout=20000)
    assert pg.input_value("#symbol") == DOGE and pg.is_checked("#side-buy")
    note = pg.inner_text("#signal-note")
    assert "re-centred on mark" in note and "recorded: denied" in note
    stop = pg.input_value("#stop_loss")
    # the ticket holds the levels the server re-centred when the ticket opened ("stop A → B, target C → D")
    moved = re.search(r"stop ([\d.]+) → ([\d.]+), target ([\d.]+) → ([\d.]+)", note)
    assert moved, note
    assert Decimal(stop) == Decimal(moved.group(2))
    assert Decimal(pg.input_value("#take_profit")) == Decimal(moved.group(4))
    _wait_for_submit(pg, name)
    shot(pg, f"trade-from-signal-{name}")
    return stop


def test_a_denied_signal_opens_the_ticket_re_centred_then_says_why_once_its_position_is_open(browser, shifted):
    server, env = shifted
    signal = _denied_by_auto_trading(server, env)

    # phone: the button is usable and the ticket opens with re-centred levels (nothing placed)
    context, pg, errors = _new_page(browser, server, VIEWPORTS["phone"])
    try:
        _open_ticket_from_signal(pg, server, "390")
    finally:
        context.close()
    assert errors == [], errors

    # desktop: the same, then place the order through the receipt and the gate
    context, pg, errors = _new_page(browser, server, VIEWPORTS["desktop"])
    try:
        stop = _open_ticket_from_signal(pg, server, "1440")
        assert Decimal(stop) < Decimal(signal["entry"])
        # a fixed size well inside the position-notional cap: "size for me" sizes right up to the cap, and the
        # mark moving between the receipt and the gate could then push it over (that is the ticket's own matter)
        pg.fill("#qty", "4000")
        _wait_for_submit(pg, "1440-4000", "4000 DOGE")
        pg.click("#submit-order")
        pg.wait_for_selector("#ticket-result .alert", timeout=20000)
        assert pg.locator("#ticket-result .alert-success").count() >= 1, pg.inner_text("#ticket-result")
        # the position is open now: the signal's status, re-evaluated, says so and the button says why
        _wait(lambda: _doge(server)["now"]["code"] == "held", 20, lambda: str(_doge(server)["now"]))
        pg.goto(server + "/signals")
        row = pg.locator(f'#signals-table tr[data-symbol="{DOGE}"]')
        row.locator('.signal-now[data-allowed="false"]').wait_for(timeout=20000)
        assert row.locator("button.trade-btn").is_disabled()
        assert f"a position is open on {DOGE} (paper) now" in row.locator(".trade-why").inner_text()
        shot(pg, "signals-held-says-why-1440")
    finally:
        context.close()
    assert errors == [], errors
