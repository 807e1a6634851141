"""Real-browser fixtures: the app under gunicorn on a free localhost port, and Debian's Chromium via Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tests.conftest import database_url
from tests.support.servers import ROOT, serving

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
# Under the app's Content-Security-Policy (no 'unsafe-eval') page.wait_for_function needs a function, "() => ...":
# Playwright evaluates a bare expression string with eval() in the page, which the policy refuses.
PASSWORD = "quiver lantern mosaic tundra"  # strong enough for the start-up check
TOKEN = "kV3q9Zr-T2wXb8LmN4pYc7HdJ6sFa1Ue"  # random: passes the start-up strength check


def app_env(tmp: Path, **changes: str) -> dict[str, str]:
    """Return the settings every browser test's server runs with: its database in ``tmp``, a poll every second, the
    known password and token, two workers (``changes`` add or replace some)."""
    return {"DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "POLL_SECONDS": "1", "RISKMGR_ADMIN_PASSWORD": PASSWORD,
            "RISKMGR_API_TOKEN": TOKEN, "WEB_CONCURRENCY": "2", **changes}


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Serve the app exactly as `make run` does, on a fresh database, and yield its base URL."""
    tmp = tmp_path_factory.mktemp("browser-app")
    with serving(tmp, app_env(tmp, DATABASE_URL=database_url(tmp, "app"))) as srv:
        yield srv.base


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A logged-in page that records console errors; the test must end with none."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"{pg.url}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"{pg.url}: {e}"))
    log_in(pg, server)
    pg.errors = errors
    yield pg
    context.close()
    assert errors == [], f"console errors: {errors}"


def log_in(pg, server: str) -> None:
    """Log in through the real form and land on the dashboard."""
    pg.goto(f"{server}/login")
    pg.fill("#password", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{server}/")


def shot(pg, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/browser/."""
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(server: str, method: str, path: str, **kwargs):
    """Call the API with the bearer token."""
    return requests.request(method, f"{server}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
                            **kwargs)
