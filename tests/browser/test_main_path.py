"""The main path in a real browser: log in, watch figures move, trade, (emergency stop, re-arm, backtest)."""

import pytest

from tests.browser.conftest import api, shot

pytestmark = pytest.mark.slow


def _equity_text(pg) -> str:
    return pg.inner_text('.account-card[data-account="paper"] dl')


def test_dashboard_figures_change_without_a_reload(page, server):
    response = api(server, "POST", "/api/orders", json={
        "account": "paper", "symbol": "BTC/USDT:USDT", "type": "market", "side": "buy", "qty": "0.01",
        "leverage": 2, "stop_loss": "100", "take_profit": "10000000"})
    assert response.status_code in (201, 409), response.text
    page.goto(server + "/")
    page.evaluate("window.__noReload = true")
    page.wait_for_selector('.account-card[data-account="paper"][data-status="ok"]', timeout=20000)
    first = page.get_attribute("#refresh-status", "data-generated-at")
    page.wait_for_function(
        "(t) => document.querySelector('#refresh-status').dataset.generatedAt !== t", arg=first, timeout=20000
    )
    assert page.evaluate("window.__noReload") is True
    assert "USDT" in _equity_text(page)
    assert page.locator("#equity-chart").is_visible()
    shot(page, "dashboard")
