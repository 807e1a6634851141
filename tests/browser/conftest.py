"""Real-browser fixtures: the app under gunicorn on a free localhost port, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Serve the app exactly as `make run` does, on a fresh database, and yield its base URL."""
    tmp = tmp_path_factory.mktemp("browser-app")
    port = _free_port()
    env = {
        **os.environ, "INSTANCE_PATH": str(tmp / "instance"), "DATABASE_URL": database_url(tmp, "app"),
        "POLL_SECONDS": "1", "RISKMGR_ADMIN_PASSWORD": PASSWORD, "RISKMGR_API_TOKEN": TOKEN,
        "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2", "FLASK_APP": "app",
    }
    venv = Path(sys.executable).parent
    subprocess.run([str(venv / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(
        [str(venv / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/health", timeout=3).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        else:
            pytest.fail("the app did not start: " + (tmp / "gunicorn.log").read_text()[-2000:])
        yield base
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


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
