import re

import pytest

from tests.conftest import API_TOKEN, csrf_from, login

PUBLIC = {"/health", "/login", "/static/<path:filename>"}


def _concrete(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)


def test_every_route_but_health_and_login_requires_authentication(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_concrete(rule), method=method)
            assert response.status_code in (401, 302), f"{method} {rule.rule} answered {response.status_code}"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]
            checked += 1
    assert checked >= 5


def test_api_without_credentials_answers_401_json(client):
    response = client.get("/api/snapshot")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_wrong_bearer_token_is_refused(client):
    response = client.get("/api/snapshot", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_bearer_token_grants_api_access_without_csrf(client):
    response = client.post(
        "/api/positions/close", json={}, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 400  # reached the view: the body is validated, not the CSRF token


def test_health_answers_without_auth_and_without_data(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_login_with_wrong_password_is_refused(client):
    response = login(client, "wrong")
    assert response.status_code == 200
    assert "Wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_with_the_admin_password_opens_the_dashboard(client):
    response = login(client)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Portfolio" in page.get_data(as_text=True)


def test_session_write_without_csrf_token_is_refused(client):
    login(client)
    response = client.post("/api/positions/close", json={"account": "paper"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"


def test_session_write_with_csrf_token_reaches_the_view(client):
    login(client)
    token = csrf_from(client)
    response = client.post("/api/positions/close", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.get_json()["detail"]["field"] == "account"


def test_login_redirects_only_to_local_paths(client):
    import re as _re

    page = client.get("/login").get_data(as_text=True)
    token = _re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login?next=https://evil.example/", data={"password": "correct horse battery staple",
                                                                       "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_repeated_failures_make_the_login_wait_before_the_next_attempt(client):
    for _ in range(5):
        login(client, "wrong")
    response = login(client)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)


@pytest.mark.parametrize("cookie_flag", ["HttpOnly", "SameSite=Lax"])
def test_session_cookie_is_protected(client, cookie_flag):
    response = login(client)
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert cookie_flag in cookies


def test_generated_password_is_printed_once_and_only_its_hash_stored(tmp_path, capsys):
    from riskmgr import create_app
    from riskmgr.persistence.extensions import db
    from riskmgr.persistence.models import AppSetting
    from riskmgr.web.auth import HASH_KEY, ensure_admin_credentials
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, admin_password=None))
    with app.app_context():
        db.create_all()
    ensure_admin_credentials(app)
    ensure_admin_credentials(app)
    printed = capsys.readouterr().err
    assert printed.count("generated the admin password") == 1
    password = re.search(r"admin password: (\S+)", printed).group(1)
    with app.app_context():
        stored = db.session.get(AppSetting, HASH_KEY).value
    assert password not in stored
    assert login(app.test_client(), password).status_code == 302


def test_two_workers_storing_the_configured_password_at_once_both_start(tmp_path):
    import threading

    from riskmgr import create_app
    from riskmgr.persistence.extensions import db
    from riskmgr.web.auth import ensure_admin_credentials
    from tests.conftest import make_settings

    apps = [create_app(make_settings(tmp_path)) for _ in range(4)]
    with apps[0].app_context():
        db.create_all()
    barrier = threading.Barrier(len(apps))
    failures = []

    def boot(app):
        barrier.wait()
        try:
            ensure_admin_credentials(app)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=boot, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert login(apps[0].test_client()).status_code == 302
