"""Every answer carries the security headers: each GET route in the URL map (a new route is covered automatically),
static files, the login form, redirects, 401, 404, 405, 400 and 500 answers; HSTS only with HTTPS-only cookies."""

from __future__ import annotations

import pytest

from riskmgr.backtest.service import BacktestService
from riskmgr.risk.emergency.feature import service
from riskmgr.web.security import CONTENT_SECURITY_POLICY, HSTS
from tests.conftest import ADMIN_PASSWORD, csrf_from, login, make_settings

RANGE = {"start": "2026-11-10T00:00", "end": "2026-11-14T00:00", "timezone": "UTC"}
EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# a path parameter the URL map may use -> a sample value; the ids are filled after creating the objects
SAMPLES = {"symbol": "BTC/USDT:USDT", "filename": "css/app.css", "name": "paper"}


@pytest.fixture(params=[False, True], ids=["plain-cookies", "https-only-cookies"])
def settings(request, tmp_path, clock):
    return make_settings(tmp_path, cookie_secure=request.param, extra={"clock": clock})


def assert_headers(response, secure: bool, what: str) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, f"{what}: {name} is {response.headers.get(name)!r}"
    policy = response.headers.get("Permissions-Policy", "")
    assert "camera=()" in policy and "geolocation=()" in policy, f"{what}: Permissions-Policy is {policy!r}"
    if secure:
        assert response.headers.get("Strict-Transport-Security") == HSTS, what
    else:
        assert "Strict-Transport-Security" not in response.headers, what


def _ids_of_created_objects(api, runtime) -> dict:
    """Create one finished backtest run and one emergency-stop sequence so the routes taking an id answer 200."""
    started = api.post("/api/backtests", json={"preset": "conservative", **RANGE})
    assert started.status_code == 202, started.get_json()
    run_id = started.get_json()["id"]
    runtime.feature(BacktestService).wait(run_id)
    stop = api.post("/api/emergency-stop", json={"reason": "security header test"})
    assert stop.status_code == 202, stop.get_json()
    seq_id = stop.get_json()["id"]
    service(runtime).wait(seq_id, timeout=60)
    return {"run_id": run_id, "seq_id": seq_id}


def _get_urls(app, values: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.rule}: add a sample value for {sorted(missing)} to this test"
        urls.append(rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1])
    return sorted(urls)


def test_every_get_route_in_the_url_map_answers_with_the_security_headers(app, api, runtime, settings):
    urls = _get_urls(app, {**SAMPLES, **_ids_of_created_objects(api, runtime)})

    answers = {url: api.get(url) for url in urls}

    assert {"/", "/trade", "/risk", "/api/snapshot", "/health", "/metrics", "/login"} <= set(answers)
    assert any(url.startswith("/static/") for url in answers)
    for url, response in answers.items():
        assert_headers(response, settings.cookie_secure, f"GET {url} ({response.status_code})")
        assert response.status_code < 500, f"GET {url} answered {response.status_code}"
    pages = [u for u, r in answers.items() if r.mimetype == "text/html"]
    assert all(answers[u].status_code == 200 for u in pages), {u: answers[u].status_code for u in pages}


def test_a_finished_backtest_run_and_its_exports_answer_200_with_the_headers(api, runtime, settings):
    run_id = _ids_of_created_objects(api, runtime)["run_id"]

    for url in (f"/api/backtests/{run_id}", f"/api/backtests/{run_id}/export.csv",
                f"/api/backtests/{run_id}/export.json"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert_headers(response, settings.cookie_secure, url)


def test_static_files_carry_the_headers(client, settings):
    for path in ("/static/css/app.css", "/static/js/common.js", "/static/favicon.svg",
                 "/static/vendor/bootstrap/bootstrap.bundle.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_headers(response, settings.cookie_secure, path)


def test_the_login_form_the_login_redirect_and_anonymous_refusals_carry_the_headers(client, settings):
    answers = {
        "GET /login": client.get("/login"),
        "GET / anonymous (redirect to login)": client.get("/"),
        "GET /api/snapshot anonymous (401)": client.get("/api/snapshot"),
        "GET /api/snapshot bad token (401)": client.get("/api/snapshot", headers={"Authorization": "Bearer nope"}),
        "POST /login": login(client, ADMIN_PASSWORD),
    }

    assert answers["GET / anonymous (redirect to login)"].status_code == 302
    assert answers["GET /api/snapshot anonymous (401)"].status_code == 401
    for what, response in answers.items():
        assert_headers(response, settings.cookie_secure, what)


def test_a_logged_in_page_and_the_logout_redirect_carry_the_headers(client, settings):
    login(client)
    page = client.get("/risk")
    logout = client.post("/logout", data={"csrf_token": csrf_from(client)})

    assert page.status_code == 200 and logout.status_code == 302
    assert_headers(client.get("/login"), settings.cookie_secure, "GET /login after logout")


def test_404_405_400_and_500_answers_carry_the_headers(app, api, settings):
    def boom():
        raise RuntimeError("an unexpected failure")

    app.add_url_rule("/api/boom", "boom", boom)
    answers = {
        "404 page": api.get("/no-such-page"),
        "404 api": api.get("/api/no-such-thing"),
        "404 static": api.get("/static/no-such-file.css"),
        "405": api.post("/health"),
        "400": api.post("/api/backtests", json={"preset": "yolo", **RANGE}),
        "500": api.get("/api/boom"),
        "OPTIONS": api.options("/api/snapshot"),
    }

    assert {what: r.status_code for what, r in answers.items()} == {
        "404 page": 404, "404 api": 404, "404 static": 404, "405": 405, "400": 400, "500": 500, "OPTIONS": 200}
    for what, response in answers.items():
        assert_headers(response, settings.cookie_secure, what)


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))

    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["default-src"] == directives["script-src"] == directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == directives["base-uri"] == directives["object-src"] == "'none'"
