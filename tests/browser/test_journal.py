"""The trade journal in a real browser at 1440x900 and 390x844: a real paper trade (opened and closed through the
gate) is in the table (cards on a phone), the charts are drawn, and the emergency panel's closes table is there."""

import time
from decimal import Decimal

import pytest

from tests.browser.conftest import api, shot

pytestmark = pytest.mark.slow
SYMBOL = "SOL/USDT:USDT"
CANVASES = ("period-chart", "cumulative-chart", "symbol-chart")
# true when some pixel of the canvas is not transparent (Chart.js drew bars, lines or at least the axes)
DRAWN = """(id) => { const c = document.getElementById(id); if (!c || !c.width || !c.height) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }"""


def _round_trip(server: str) -> None:
    """Open a small long through the gate (stop and target from the receipt's mark) and close it by hand."""
    deadline = time.monotonic() + 30
    while api(server, "GET", "/api/snapshot").json()["accounts"][0]["status"] != "ok":  # the first poll
        assert time.monotonic() < deadline, "the paper account was never polled"
        time.sleep(0.3)
    ticket = {"account": "paper", "symbol": SYMBOL, "type": "market", "side": "buy", "leverage": 2}
    preview = api(server, "POST", "/api/orders/preview", json=ticket | {"stop_loss": "0.01", "take_profit": "100000"})
    assert preview.status_code == 200, preview.text
    mark = Decimal(preview.json()["entry_price"])
    opened = api(server, "POST", "/api/orders", json=ticket | {
        "stop_loss": str((mark * Decimal("0.97")).quantize(Decimal("0.01"))),
        "take_profit": str((mark * Decimal("1.09")).quantize(Decimal("0.01")))})
    assert opened.status_code == 201, opened.text
    closed = api(server, "POST", "/api/positions/close", json={"account": "paper", "symbol": SYMBOL, "side": "long"})
    assert closed.status_code == 201, closed.text


@pytest.fixture(scope="module")
def traded(server):
    _round_trip(server)
    trades = api(server, "GET", f"/api/trades?symbol={SYMBOL}").json()["trades"]
    assert trades and trades[0]["exit_reason"] == "manual", trades
    return trades[0]


def _open_journal(page, server: str, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server + "/journal")
    page.wait_for_function("() => document.body.dataset.journalLoaded === '1'", timeout=20000)


def test_journal_at_1440_shows_the_trade_in_the_table_and_draws_every_chart(page, server, traded):
    _open_journal(page, server, 1440, 900)

    row = page.locator(f'#trades-table tbody tr[data-id="{traded["id"]}"]')
    assert row.is_visible()
    text = row.inner_text()
    assert SYMBOL in text and "manual close" in text and "long" in text
    assert page.locator("#trades-table").evaluate("(t) => t.scrollWidth <= t.parentElement.clientWidth + 1")
    for canvas in CANVASES:
        assert page.evaluate(DRAWN, canvas), f"{canvas} is blank"
    assert SYMBOL in page.inner_text("#symbol-table")
    assert page.get_attribute("#journal-csv", "href").startswith("/api/trades.csv")
    shot(page, "journal-1440")


def test_journal_at_390_shows_the_trade_as_a_card_and_draws_every_chart(page, server, traded):
    _open_journal(page, server, 390, 844)

    card = page.locator(f'#trades-cards .trade-card[data-id="{traded["id"]}"]')
    assert card.is_visible() and not page.locator("#trades-table").is_visible()
    assert SYMBOL in card.inner_text() and "USDT" in card.inner_text()
    for canvas in CANVASES:
        assert page.evaluate(DRAWN, canvas), f"{canvas} is blank"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "journal-390")


def test_a_bad_filter_shows_the_field_and_the_allowed_range(page, server, traded):
    _open_journal(page, server, 1440, 900)
    page.fill("#f-from", "2020-01-01T00:00:00")
    page.click("#journal-filters button[type=submit]")

    page.wait_for_function("() => document.querySelector('#journal-error').innerText.includes('366 days')",
                           timeout=10000)
    assert "invalid from" in page.inner_text("#journal-error")
    # the browser logs the 400 it was sent on purpose; anything else would still fail the test
    assert all("status of 400" in e for e in page.errors), page.errors
    page.errors.clear()
    shot(page, "journal-bad-filter")


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_the_emergency_page_has_the_closes_table_with_fill_and_pnl_columns(page, server, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server + "/emergency")
    page.wait_for_selector("#em-closes tbody tr", timeout=10000)

    head = page.inner_text("#em-closes thead")
    assert "Fill price" in head and "Realized P&L (USDT)" in head
    shot(page, f"emergency-closes-{width}")
