"""Equity history: raw points for short windows, roll-ups written with each poll for long ones; gaps stay gaps."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from riskmgr.accounts import equity_history
from riskmgr.accounts.equity_history import bucket_start, resolution
from riskmgr.accounts.monitor import poll_cycle


def test_a_short_window_is_raw_and_a_week_reads_15_minute_rollups():
    assert resolution(timedelta(hours=1), 5) is None
    assert resolution(timedelta(hours=24), 5) == 60
    assert resolution(timedelta(days=7), 5) == 900
    assert resolution(timedelta(days=60), 5) == 3600


def test_each_poll_moves_the_rollup_buckets_to_its_reading_and_the_week_ends_on_the_latest(api, runtime, clock):
    for _ in range(3):
        poll_cycle(runtime)
        clock.advance(20)
    since = (clock.now() - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    body = api.get(f"/api/equity?account=paper&since={since}").get_json()
    assert body["resolution_seconds"] == 900 and body["resolution"] == "last reading per 15 min"
    points = body["series"]["paper"]
    assert len(points) == 1 and points[0]["ts"] == (clock.now() - timedelta(seconds=20)).isoformat()


def test_a_bucket_without_a_reading_has_no_point(runtime, clock):
    t0 = clock.now()
    with Session(runtime.engine) as session, session.begin():
        equity_history.record(session, [("paper", t0, Decimal(100))])
        equity_history.record(session, [("paper", t0 + timedelta(hours=3), Decimal(90))])
    clock.advance(4 * 3600)
    body = equity_history.history(runtime, "paper", t0 - timedelta(days=6))
    assert [p["equity"] for p in body["series"]["paper"]] == ["100", "90"]  # not 12 points filled in between


def test_a_later_reading_in_the_same_bucket_wins_and_an_earlier_one_does_not(runtime, clock):
    t0 = bucket_start(clock.now(), 3600) + timedelta(minutes=10)
    with Session(runtime.engine) as session, session.begin():
        equity_history.record(session, [("paper", t0, Decimal(100))])
        equity_history.record(session, [("paper", t0 + timedelta(minutes=5), Decimal(105))])
        equity_history.record(session, [("paper", t0 - timedelta(minutes=5), Decimal(95))])
    clock.advance(3600 * 24 * 30)
    body = equity_history.history(runtime, "paper", t0 - timedelta(days=1))
    assert body["resolution_seconds"] == 3600 and [p["equity"] for p in body["series"]["paper"]] == ["105"]


def test_every_accounts_tail_bucket_is_read_again_in_one_query_and_the_series_equal_a_fresh_read(runtime, clock):
    from sqlalchemy import event

    width, names = 900, ("alpha", "beta", "gamma")
    t0 = bucket_start(clock.now(), width) - timedelta(hours=5)
    since = t0 - timedelta(days=1)
    with Session(runtime.engine) as session, session.begin():
        for k in range(12):  # every 20 minutes: a reading in most 15-minute buckets
            equity_history.record(session, [(n, t0 + timedelta(minutes=20 * k), Decimal(100 + k + i))
                                            for i, n in enumerate(names)])
    held = [equity_history._series(runtime, n, width) for n in names]
    with runtime.engine.connect() as connection:
        equity_history._rollup_fragments(held, connection, since)  # this worker now holds every bucket
    later = t0 + timedelta(minutes=20 * 11, seconds=30)  # moves each tail bucket, and one new bucket after it
    with Session(runtime.engine) as session, session.begin():
        equity_history.record(session, [(n, later, Decimal(500 + i)) for i, n in enumerate(names)])
        equity_history.record(session, [(n, later + timedelta(minutes=15), Decimal(600 + i))
                                        for i, n in enumerate(names)])
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with runtime.engine.connect() as connection:
            cached = equity_history._rollup_fragments(held, connection, since)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    with runtime.engine.connect() as connection:
        fresh = equity_history._rollup_fragments([equity_history._Series(n, width) for n in names], connection, since)

    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1  # one read for every tail
    assert cached == fresh
    assert [f.split('"equity":')[1] for f in cached["beta"][-2:]] == ['"501"}', '"601"}']
