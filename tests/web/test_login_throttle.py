"""Login throttling: counted in the database (all workers, restarts), per address and globally, no lock-out."""

from __future__ import annotations

import re
import threading

import pytest

from riskmgr import create_app
from riskmgr.app.login_throttle import (
    FREE_FAILURES,
    GLOBAL_BURST,
    GLOBAL_INTERVAL_S,
    MAX_DELAY_S,
    address_key,
    backoff_s,
)
from riskmgr.persistence.extensions import db
from riskmgr.web.auth import ensure_admin_credentials
from tests.conftest import ADMIN_PASSWORD, make_settings

OPERATOR = "192.0.2.10"
ATTACKER = "203.0.113.66"


def _app(settings):
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    ensure_admin_credentials(app)
    return app


def attempt(client, password: str, addr: str = "127.0.0.1", xff: str | None = None):
    """Post the login form from ``addr`` (optionally through a proxy that sent X-Forwarded-For)."""
    environ = {"REMOTE_ADDR": addr}
    page = client.get("/login", environ_base=environ).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    headers = {"X-Forwarded-For": xff} if xff else {}
    return client.post("/login", data={"password": password, "csrf_token": token}, environ_base=environ,
                       headers=headers)


def test_backoff_is_free_for_a_few_failures_then_doubles_up_to_a_cap():
    waits = [backoff_s(n) for n in range(1, 20)]
    assert waits[:FREE_FAILURES] == [0.0] * FREE_FAILURES
    assert waits[FREE_FAILURES:FREE_FAILURES + 5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(waits) == MAX_DELAY_S == backoff_s(10_000)


def test_ipv6_clients_are_counted_by_their_64_prefix():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "addr:2001:db8:1:2::/64"
    assert address_key("::ffff:198.51.100.7") == "addr:198.51.100.7"
    assert address_key("x" * 300).startswith("addr#")


def test_twelve_wrong_passwords_from_two_workers_meet_one_shared_growing_backoff(settings, clock):
    workers = [_app(settings).test_client(), _app(settings).test_client()]  # two apps, one database file
    waits = []
    for n in range(1, 13):
        assert attempt(workers[n % 2], "wrong").status_code == 200
        if n > FREE_FAILURES:
            refused = attempt(workers[(n + 1) % 2], "wrong")  # the other worker knows at once
            assert refused.status_code == 429
            waits.append(int(refused.headers["Retry-After"]))
            clock.advance(waits[-1])
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_a_restart_keeps_the_backoff(settings, clock):
    first = _app(settings).test_client()
    for _ in range(FREE_FAILURES + 3):
        attempt(first, "wrong")
        clock.advance(backoff_s(FREE_FAILURES + 2))
    restarted = _app(settings).test_client()  # a new app on the same database
    response = attempt(restarted, ADMIN_PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == backoff_s(FREE_FAILURES + 3) - backoff_s(FREE_FAILURES + 2)


def test_a_throttled_attempt_is_a_429_that_says_when_and_never_checks_the_password(app, client, monkeypatch):
    for _ in range(FREE_FAILURES + 1):
        attempt(client, "wrong")
    checked = []
    monkeypatch.setattr("riskmgr.web.auth._password_ok", lambda password: checked.append(password) or True)
    response = attempt(client, ADMIN_PASSWORD)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert "try again in 1 s (at 12:00:01 UTC)" in response.get_data(as_text=True)
    assert checked == []
    assert client.get("/").status_code == 302


def test_once_the_clock_passes_the_wait_the_right_password_gets_in_and_clears_the_count(app, client, clock):
    for _ in range(FREE_FAILURES + 4):
        attempt(client, "wrong")
        clock.advance(backoff_s(FREE_FAILURES + 3))
    refused = attempt(client, ADMIN_PASSWORD)
    assert refused.status_code == 429
    clock.advance(int(refused.headers["Retry-After"]))
    assert attempt(client, ADMIN_PASSWORD).status_code == 302
    assert app.extensions["login_throttle"].state("127.0.0.1").failures == 0


def test_a_spoofed_forwarded_for_is_ignored_without_trusted_proxies(app, client):
    for n in range(FREE_FAILURES + 1):
        attempt(client, "wrong", addr=ATTACKER, xff=f"10.9.9.{n}")
    assert attempt(client, "wrong", addr=ATTACKER, xff="10.9.9.200").status_code == 429
    assert app.extensions["login_throttle"].state(ATTACKER).failures == FREE_FAILURES + 1


def test_with_one_trusted_proxy_only_the_last_forwarded_hop_counts(tmp_path, clock):
    app = _app(make_settings(tmp_path, trusted_proxies=1, extra={"clock": clock}))
    client = app.test_client()
    proxy = "10.0.0.1"  # the platform's router: every request arrives from it
    for n in range(FREE_FAILURES + 1):  # the attacker puts a new fake address in front each time
        attempt(client, "wrong", addr=proxy, xff=f"198.51.100.{n}, {ATTACKER}")
    assert attempt(client, "wrong", addr=proxy, xff=f"198.51.100.99, {ATTACKER}").status_code == 429
    assert app.extensions["login_throttle"].state(ATTACKER).failures == FREE_FAILURES + 1
    assert attempt(client, ADMIN_PASSWORD, addr=proxy, xff=OPERATOR).status_code == 302  # same proxy, other client


def test_an_attacker_hammering_from_one_address_does_not_keep_the_operator_out(app, clock):
    attacker, operator = app.test_client(), app.test_client()
    statuses = []
    for _ in range(300):
        statuses.append(attempt(attacker, "wrong", addr=ATTACKER).status_code)
        clock.advance(1)
    assert statuses.count(200) < 15  # a handful of guesses in five minutes, the rest refused
    assert attempt(operator, ADMIN_PASSWORD, addr=OPERATOR).status_code == 302


def test_many_attacking_addresses_meet_the_global_cap_but_the_operator_gets_in_after_a_bounded_wait(app, clock):
    attacker, operator = app.test_client(), app.test_client()
    for n in range(GLOBAL_BURST):  # a burst from many addresses uses up the global allowance
        assert attempt(attacker, "wrong", addr=f"10.1.{n // 250}.{n % 250}").status_code == 200
    for n in range(20):  # the next ones are told to queue, each one interval later
        queued = attempt(attacker, "wrong", addr=f"10.2.0.{n}")
        assert queued.status_code == 429
        assert int(queued.headers["Retry-After"]) == (n + 1) * GLOBAL_INTERVAL_S
    response = attempt(operator, ADMIN_PASSWORD, addr=OPERATOR)
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert wait == 21 * GLOBAL_INTERVAL_S  # bounded: one interval per attacking address queued ahead
    for n in range(100):  # more attackers arrive after the operator: they queue behind
        attempt(attacker, "wrong", addr=f"10.3.0.{n}")
    clock.advance(wait)
    assert attempt(operator, ADMIN_PASSWORD, addr=OPERATOR).status_code == 302


def test_concurrent_attempts_from_two_workers_are_counted_exactly(settings):
    throttles = [_app(settings).extensions["login_throttle"] for _ in range(2)]
    barrier = threading.Barrier(8)
    admitted = []

    def hammer(throttle):
        barrier.wait()
        for _ in range(5):
            admitted.append(throttle.admit(ATTACKER).allowed)

    threads = [threading.Thread(target=hammer, args=(throttles[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == FREE_FAILURES + 1  # the rest met the back-off set by the last counted one
    assert throttles[0].state(ATTACKER).failures == FREE_FAILURES + 1
    assert throttles[1].state().failures == FREE_FAILURES + 1


@pytest.mark.parametrize("proxies", [-1, 6])
def test_trusted_proxies_outside_0_to_5_is_refused(proxies):
    from riskmgr.app.config import Settings
    from riskmgr.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES.*0–5"):
        Settings.from_env({"TRUSTED_PROXIES": str(proxies)})
