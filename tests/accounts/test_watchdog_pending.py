"""The watchdog on a lagging venue: an accepted stop not listed yet is pending, never sent twice; honest reads."""

from __future__ import annotations

import threading

import pytest
import responses

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.watchdog import ProtectionWatchdog, WatchdogSettings, settings_from_env, watchdog
from riskmgr.core.domain import AccountStatus, PositionSide
from riskmgr.core.errors import ConfigError, InvalidOrderError
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import RiskLimits
from tests.accounts.test_watchdog import (
    BX,
    FEATURE,
    ProtectableFake,
    bitunix_adapter,
    bitunix_routes,
    btc_long,
    cycle,
)
from tests.conftest import make_settings

GRACE = WatchdogSettings(pending_grace_seconds=30)  # cycle() lets 5 s pass: the grace is six cycles


class LaggingFake(ProtectableFake):
    """A venue that accepts every stop at once but lists the accepted ones only when ``listing`` is on."""

    def __init__(self, account: str = "live"):
        super().__init__(account)
        self.listing = False
        self.accepted: list = []

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        [order] = super().place_position_protection(symbol, side, stop_loss=stop_loss, take_profit=take_profit,
                                                    client_id=client_id)
        self.orders.remove(order)
        self.accepted.append(order)
        return [order]

    def fetch_open_orders(self):  # type: ignore[no-untyped-def]
        return super().fetch_open_orders() + (list(self.accepted) if self.listing else [])


@pytest.fixture
def make_rt(tmp_path, clock):
    """Build a runtime on the real factory with the given adapters and watchdog settings."""
    apps = []

    def make(adapters, watch: WatchdogSettings | None = None):
        changes = {"risk_limits": RiskLimits()} | ({"feature_settings": {FEATURE: watch}} if watch else {})
        app = create_app(make_settings(tmp_path / f"app{len(apps)}", extra={"clock": clock, "adapters": adapters},
                                       **changes))
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app.extensions["riskmgr"]

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def lagging():
    venue = LaggingFake()
    venue.positions = [btc_long("50000", "50100")]
    return venue


def test_stop_accepted_but_not_listed_for_five_cycles_then_exactly_one_is_placed(make_rt, lagging, clock):
    rt = make_rt({"live": lagging}, watch=GRACE)

    for _ in range(6):  # 25 s: within the grace period
        cycle(rt, clock)
    assert len(lagging.protect_calls) == 1
    [row] = watchdog(rt).unprotected()
    assert row["pending"]["client_id"] == lagging.protect_calls[0]["client_id"]

    lagging.listing = True
    cycle(rt, clock)
    cycle(rt, clock)

    assert len(lagging.protect_calls) == 1
    assert watchdog(rt).unprotected() == []
    assert watchdog(rt).counts()["placed"] == 1


def test_stop_still_missing_past_the_grace_period_then_it_is_placed_exactly_once_more(make_rt, lagging, clock):
    rt = make_rt({"live": lagging}, watch=GRACE)

    for _ in range(12):  # placed at 0 s, given up at 30 s and placed again; the second one is pending till 60 s
        cycle(rt, clock)

    assert len(lagging.protect_calls) == 2
    first, second = lagging.protect_calls
    assert first["stop"] == second["stop"] and first["client_id"] != second["client_id"]
    [lost] = rt.audit.query(kind="watchdog.lost")
    assert "still not listed after 30 s (grace 30 s)" in lost["message"]


def test_pending_stop_survives_a_restart_then_the_new_watchdog_does_not_place_it_again(make_rt, lagging, clock):
    rt = make_rt({"live": lagging}, watch=GRACE)
    cycle(rt, clock)

    rt.features.replace(ProtectionWatchdog, ProtectionWatchdog(rt, GRACE))  # a restarted process: nothing kept
    cycle(rt, clock)
    cycle(rt, clock)

    assert len(lagging.protect_calls) == 1


def test_two_processes_past_the_grace_period_on_one_read_then_one_re_placement(make_rt, lagging, clock):
    rt = make_rt({"live": lagging}, watch=GRACE)
    cycle(rt, clock)
    clock.advance(30)
    snaps = poll_cycle(rt, [])
    dogs = [ProtectionWatchdog(rt, GRACE) for _ in range(2)]
    start = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def run(dog: ProtectionWatchdog) -> None:
        start.wait()
        try:
            dog.check(snaps)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(dog,)) for dog in dogs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(lagging.protect_calls) == 2


def test_rejected_placement_on_a_lagging_venue_then_retried_next_cycle_not_held_as_pending(make_rt, lagging, clock):
    lagging.refuse = InvalidOrderError("trigger price refused")
    rt = make_rt({"live": lagging}, watch=GRACE)

    cycle(rt, clock)
    cycle(rt, clock)

    assert len(lagging.protect_calls) == 2
    assert lagging.protect_calls[0]["client_id"] != lagging.protect_calls[1]["client_id"]
    assert watchdog(rt).unprotected()[0]["pending"] is None


@pytest.mark.parametrize("value", ["4", "3601", "soon"])
def test_pending_grace_outside_its_range_then_config_error_names_it(value):
    with pytest.raises(ConfigError, match="WATCHDOG_PENDING_GRACE_SECONDS"):
        settings_from_env({"WATCHDOG_PENDING_GRACE_SECONDS": value})


def test_pending_grace_defaults_to_thirty_seconds():
    assert settings_from_env({}).pending_grace_seconds == 30


# -- honest reads through the real poll path (documented Bitunix replies) ---------------------------------------
def test_bitunix_positions_data_null_then_account_stale_and_the_watchdog_does_not_log_it_closed(make_rt, http, clock):
    from tests.exchanges.bitunix.conftest import ok

    bitunix_routes(http)  # the documented long: entry 60000, mark 57892.1, no stop
    rt = make_rt({"bx": bitunix_adapter(clock)})
    [first] = cycle(rt, clock)
    assert first.status is AccountStatus.OK and len(first.positions) == 1
    assert len(watchdog(rt).unprotected()) == 1

    http.replace("GET", f"{BX}/position/get_pending_positions", json=ok(None))
    [snap] = cycle(rt, clock)

    assert snap.status is AccountStatus.STALE
    assert "get_pending_positions" in snap.error and "null" in snap.error
    assert len(snap.positions) == 1  # the last real figures, marked stale
    assert rt.audit.query(kind="watchdog.cleared") == []
    [row] = watchdog(rt).unprotected()
    assert (row["symbol"], row["side"]) == ("BTC/USDT:USDT", PositionSide.LONG.value)
