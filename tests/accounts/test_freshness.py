"""Figures are stale by their AGE, whatever the last poll said; today's P&L only against today's baseline;
totals name the accounts they leave out. All with the injected clock."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskmgr.accounts import view_cache
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.services import snapshot_view
from riskmgr.core.errors import TemporaryError
from tests.conftest import API_TOKEN
from tests.fakes import ReadOnlyFake, balance
from tests.support.apps import app_on

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def fakes():
    return {name: ReadOnlyFake(name, equity) for name, equity in (("a", "1000"), ("b", "2500"), ("c", "400"))}


@pytest.fixture
def app(tmp_path, clock, fakes):
    with app_on(tmp_path, clock, adapters=fakes, operator=True) as app:
        yield app


@pytest.fixture
def rt(app):
    return app.extensions["riskmgr"]


def _account(view, name):
    return next(a for a in view["accounts"] if a["name"] == name)


def test_fresh_figures_within_the_limit_are_ok(rt, clock):
    poll_cycle(rt)
    clock.advance(rt.limits().stale_after_seconds)
    a = _account(snapshot_view(rt), "a")
    assert a["status"] == "ok" and a["stale_since"] is None and a["equity"] == "1000"


def test_figures_older_than_the_limit_are_stale_though_the_last_poll_was_ok(rt, clock):
    poll_cycle(rt)
    read_at = clock.now()
    clock.advance(rt.limits().stale_after_seconds + 1)
    a = _account(snapshot_view(rt), "a")
    assert a["status"] == "stale" and a["stale_by_age"] is True
    assert a["stale_since"] == read_at.isoformat()
    assert "older than the 30 s limit; no poll has read the account since" in a["error"]
    assert a["equity"] == "1000"  # the last real figure, marked stale, never replaced by a made-up one


def test_cached_snapshot_api_goes_stale_with_age_and_changes_its_etag(app, rt, clock):
    poll_cycle(rt)
    view_cache.rebuild(rt)  # what the poll job stores
    client = app.test_client()
    fresh = client.get("/api/snapshot", headers=AUTH)
    assert all(a["status"] == "ok" for a in fresh.get_json()["accounts"])
    clock.advance(12 * 60)  # the poller stopped: no new cycle, no rebuild
    old = client.get("/api/snapshot", headers=AUTH)
    assert {a["status"] for a in old.get_json()["accounts"]} == {"stale"}
    assert old.headers["ETag"] != fresh.headers["ETag"]
    again = client.get("/api/snapshot", headers={**AUTH, "If-None-Match": fresh.headers["ETag"]})
    assert again.status_code == 200  # the client's fresh copy is not confirmed as current


def test_accounts_page_never_shows_ok_next_to_an_old_data_age(app, rt, clock):
    poll_cycle(rt)
    clock.advance(12 * 60)
    body = app.test_client().get("/api/accounts", headers=AUTH).get_json()
    a = _account(body, "a")
    assert a["data_age_seconds"] == 720 and a["status"] == "stale"


def test_day_pnl_is_unknown_when_the_baseline_is_from_yesterday(rt, clock, fakes):
    clock.set(datetime(2026, 11, 20, 23, 59, 0, tzinfo=UTC))
    poll_cycle(rt)
    fakes["a"].balance = balance("1100")
    clock.advance(30)
    poll_cycle(rt)
    assert _account(snapshot_view(rt), "a")["day_pnl"] == "100"  # same day: a real day P&L
    fakes["a"].fail_with = TemporaryError("exchange unreachable")
    clock.set(datetime(2026, 11, 21, 0, 5, 0, tzinfo=UTC))
    poll_cycle(rt)  # after midnight, and the read fails: the only baseline is yesterday's
    a = _account(snapshot_view(rt), "a")
    assert a["status"] == "stale" and a["day_pnl"] is None and a["day_pnl_pct"] is None
    assert a["day_pnl_note"] == "unknown — no baseline today"
    assert a["stale_since"].startswith("2026-11-20T23:59:30")  # the page shows the date: not today


def test_first_good_read_of_the_day_is_the_new_baseline(rt, clock, fakes):
    clock.set(datetime(2026, 11, 20, 23, 59, 50, tzinfo=UTC))
    poll_cycle(rt)
    fakes["a"].balance = balance("900")
    clock.set(datetime(2026, 11, 21, 0, 0, 5, tzinfo=UTC))
    poll_cycle(rt)
    a = _account(snapshot_view(rt), "a")
    assert a["day_pnl"] == "0" and a["day_pnl_note"] is None and a["day_baseline_day"] == "2026-11-21"


def test_totals_leave_out_stale_accounts_and_say_so(rt, clock, fakes):
    poll_cycle(rt)
    clock.advance(5)
    fakes["b"].fail_with = TemporaryError("timeout")
    poll_cycle(rt)
    t = snapshot_view(rt)["totals"]
    assert t["equity"] == "1400"  # a + c; b's last known 2500 is not added to current figures
    assert t["accounts_included"] == 2 and t["accounts_total"] == 3 and t["complete"] is False
    assert t["excluded"] == [{"name": "b", "reason": "stale"}]
    assert t["coverage"] == "2 of 3 accounts; excludes b: stale"


def test_totals_day_pnl_names_accounts_without_todays_baseline(rt, clock, fakes):
    clock.set(datetime(2026, 11, 20, 23, 59, 50, tzinfo=UTC))
    poll_cycle(rt)
    clock.set(datetime(2026, 11, 21, 0, 0, 10, tzinfo=UTC))
    fakes["c"].fail_with = TemporaryError("timeout")
    poll_cycle(rt)
    t = snapshot_view(rt)["totals"]
    assert t["day_pnl_accounts"] == ["a", "b"] and t["day_pnl"] == "0"
    assert {"name": "c", "reason": "stale"} in t["day_pnl_excluded"] and t["day_pnl_complete"] is False


def test_complete_totals_cover_every_account(rt):
    poll_cycle(rt)
    t = snapshot_view(rt)["totals"]
    assert t["complete"] is True and t["coverage"] == "3 of 3 accounts" and t["equity"] == str(Decimal(3900))


def test_cli_status_prints_what_the_total_covers(app, rt, clock, fakes):
    poll_cycle(rt)
    clock.advance(5)
    fakes["b"].fail_with = TemporaryError("timeout")
    poll_cycle(rt)
    output = app.test_cli_runner().invoke(args=["risk", "status"]).output
    assert "all accounts: equity 1400 USDT, today's P&L 0 USDT (over a, c; excludes b: stale)" in output
    assert "— 2 of 3 accounts; excludes b: stale" in output


def test_cli_status_says_no_sum_when_every_account_is_stale_by_age(app, rt, clock):
    poll_cycle(rt)
    clock.advance(60)
    output = app.test_cli_runner().invoke(args=["risk", "status"]).output
    assert "stale since 2026-11-20T12:00:00+00:00" in output
    assert "all accounts: no sum — no account has current figures (0 of 3 accounts; excludes a: stale" in output
