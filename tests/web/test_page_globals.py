"""What is fixed while the app runs reaches every page as a Jinja global: nothing per request, nothing missing."""

from __future__ import annotations

import pytest

from riskmgr.web.pages import NAV
from tests.conftest import login


@pytest.mark.parametrize("path", ["/", "/trade", "/risk", "/emergency"])
def test_every_page_has_the_navigation_time_zone_demo_badge_and_emergency_accounts(app, client, runtime, path):
    login(client)
    page = client.get(path).get_data(as_text=True)

    with app.test_request_context():
        from flask import url_for

        for endpoint, label in app.jinja_env.globals["nav_items"]:
            assert f'href="{url_for(endpoint)}">{label}</a>' in page, (path, endpoint)
    tz = runtime.settings.display_timezone
    assert f'data-display-tz="{tz}"' in page and f"Times shown in {tz}." in page
    assert 'id="demo-badge"' in page  # the test app runs on the simulated market
    accounts = list(runtime.accounts)
    assert f"({len(accounts)}: {', '.join(accounts)})" in page
    assert f'data-poll-seconds="{runtime.settings.poll_seconds}"' in page


def test_the_navigation_lists_the_pages_own_entries_then_every_features(app):
    nav = app.jinja_env.globals["nav_items"]
    assert list(nav[: len(NAV)]) == list(NAV)
    assert {"Risk", "Signals", "Backtests", "Alerts"} <= {label for _, label in nav}
