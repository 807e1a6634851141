"""GET /api/snapshot serves the view built once per poll, identical to building it now, with an ETag."""

from riskmgr.accounts import services, view_cache
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.app.jobs import poll_job
from riskmgr.core.domain import TradingState


def _without_time(view):
    return {**view, "generated_at": None}


def test_snapshot_served_from_the_stored_view_equals_the_view_built_now(app, api, runtime, clock):
    with app.app_context():
        poll_job()
    clock.advance(3)
    served = api.get("/api/snapshot").get_json()
    assert _without_time(served) == _without_time(services.snapshot_view(runtime))
    assert served["generated_at"] == clock.now().isoformat()  # the request's time, not the poll's


def test_snapshot_is_not_rebuilt_per_request_while_nothing_changed(app, api, runtime, monkeypatch):
    poll_cycle(runtime)
    api.get("/api/snapshot")
    builds = []
    monkeypatch.setattr(services, "snapshot_view", lambda rt: builds.append(1) or {})
    for _ in range(3):
        assert api.get("/api/snapshot").status_code == 200
    assert builds == []


def test_snapshot_with_the_current_etag_is_a_304_and_a_changed_view_a_200(api, runtime):
    poll_cycle(runtime)
    first = api.get("/api/snapshot")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-store"
    assert api.get("/api/snapshot", headers={"If-None-Match": etag}).status_code == 304
    runtime.trading.escalate(TradingState.HALTED, "test halt", "test")  # audited: the view must follow at once
    changed = api.get("/api/snapshot", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["trading_state"]["state"] == "HALTED"
    assert changed.headers["ETag"] != etag


def test_a_new_poll_shows_in_the_next_answer(api, runtime, clock):
    poll_cycle(runtime)
    before = api.get("/api/snapshot").get_json()["accounts"][0]["fetched_at"]
    clock.advance(5)
    poll_cycle(runtime)
    after = api.get("/api/snapshot").get_json()["accounts"][0]["fetched_at"]
    assert after == clock.now().isoformat() != before


def test_unprotected_seconds_are_computed_for_the_request_time(runtime, clock):
    view = {"generated_at": "x", "unprotected": [{"since": clock.now().isoformat(), "seconds": 0}]}
    clock.advance(42)
    assert view_cache.as_of(view, clock.now())["unprotected"][0]["seconds"] == 42


def test_a_view_with_an_account_never_polled_is_not_stored(runtime):
    _, view = view_cache.rebuild(runtime)
    assert view["accounts"][0]["error"] == services.NOT_POLLED
    from sqlalchemy.orm import Session

    from riskmgr.persistence.models import ViewCache

    with Session(runtime.engine) as session:
        assert session.get(ViewCache, view_cache.NAME) is None
