"""The emergency stop's step table (``sequence.SEQUENCE``): the one place the steps are defined.

Its order, stored names and titles; which step answers the trigger and which closes the sequence; every step run
once on a fresh sequence; a sequence that died in any step resumed from exactly that step; a failing step recorded
failed without stopping the steps after it; the page, API, audit and CLI all reading their step count from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from riskmgr.risk.emergency.sequence import SEQUENCE, Record, Step, StepContext, StepOutcome, before_reply
from riskmgr.risk.emergency.service import EmergencyService
from tests.conftest import login
from tests.risk.emergency.test_sequence import FAST, SimulatedCrash, World, _dispose, _positions, build_world

STORED = [  # the step rows in the database and the page depend on these exact numbers, names and titles
    (1, "halt", "Set trading HALTED"),
    (2, "cancel_orders", "Cancel every non-protective open order"),
    (3, "close_positions", "Close every position with reduce-only market orders"),
    (4, "verify_flat", "Re-read positions until flat, retrying failures"),
    (5, "cleanup", "Cancel leftover protective and orphan orders"),
    (6, "record", "Record the sequence and alert"),
]


@pytest.fixture
def world(tmp_path, clock):
    w = build_world(tmp_path, clock, rate=0.0)
    yield w
    _dispose(w)


def spy_on_steps(monkeypatch: pytest.MonkeyPatch, crash_in: list[str]) -> list[str]:
    """Return the names of the steps as they run; a step named in ``crash_in`` kills the process instead (once)."""
    ran: list[str] = []
    for step in SEQUENCE:
        original = type(step).run

        def run(self: Step, ctx: StepContext, _original: Callable[[Step, StepContext], StepOutcome] = original
                ) -> StepOutcome:
            ran.append(self.name)
            if self.name in crash_in:
                crash_in.remove(self.name)
                raise SimulatedCrash()
            return _original(self, ctx)

        monkeypatch.setattr(type(step), "run", run)
    return ran


def step_rows(view: dict[str, Any]) -> list[tuple[int, str, str, str]]:
    return [(s["number"], s["name"], s["title"], s["status"]) for s in view["steps"]]


# -- the table ----------------------------------------------------------------------------------------------------
def test_the_table_holds_the_six_steps_in_order_with_their_stored_numbers_names_and_titles():
    assert [(s.number, s.name, s.title) for s in SEQUENCE] == STORED


def test_step_numbers_count_up_from_one_in_table_order_so_steps_done_is_a_resume_point():
    assert [s.number for s in SEQUENCE] == list(range(1, len(SEQUENCE) + 1))
    assert len({type(s) for s in SEQUENCE}) == len(SEQUENCE)  # one class per step


def test_only_halting_is_done_before_the_trigger_is_answered_and_it_comes_first():
    assert [s.name for s in before_reply()] == ["halt"]
    assert [s.name for s in SEQUENCE if s.before_reply] == ["halt"] and SEQUENCE[0].before_reply


def test_only_the_last_step_records_itself_because_it_frees_the_running_slot():
    assert [s.name for s in SEQUENCE if s.records_itself] == ["record"]
    assert isinstance(SEQUENCE[-1], Record)


def test_a_step_is_named_n_of_total_and_its_title_in_the_audit_and_the_cli():
    assert [s.label for s in SEQUENCE] == [f"{n}/6 {title}" for n, _, title in STORED]


# -- running it ---------------------------------------------------------------------------------------------------
def test_a_fresh_sequence_writes_a_row_per_step_and_runs_every_step_once_in_table_order(world, monkeypatch):
    ran = spy_on_steps(monkeypatch, crash_in=[])
    svc = EmergencyService(world.rt, FAST)

    started = svc.start("table drill", actor="tester", trigger="test")
    view = svc.wait(started.id, timeout=60)

    assert ran == [s.name for s in SEQUENCE]
    assert view["status"] == "flat" and view["steps_done"] == len(SEQUENCE) and not view["running"]
    assert step_rows(view) == [(n, name, title, "done") for n, name, title in STORED]
    number = {s.name: s.number for s in SEQUENCE}  # each exchange action is recorded under the step that did it
    assert {(o["action"], o["step"]) for o in view["orders"]} == {
        ("cancel_orders", number["cancel_orders"]), ("close", number["close_positions"]),
        ("cancel_leftovers", number["cleanup"]),
    }
    audited = [e["message"] for e in world.rt.audit.query(kind="emergency.step")]
    assert sorted(m.split(" ")[4] for m in audited) == [f"{n}/6" for n, _, _ in STORED]


def test_a_new_sequence_shows_every_step_pending_from_the_table_before_the_runner_starts(world):
    svc = EmergencyService(world.rt, FAST)

    started = svc.store.claim(reason="pending drill", actor="tester", trigger="test", owner=svc.owner,
                              now=world.rt.clock.now())

    view = svc.store.view(started.id, world.rt.clock.now())
    assert step_rows(view) == [(n, name, title, "pending") for n, name, title in STORED]
    assert view["steps_done"] == 0 and view["running"]
    svc.run(started.id)  # leaves nothing running for the next test


@pytest.mark.parametrize("died_in", [name for _, name, _ in STORED])
def test_a_sequence_whose_runner_died_in_a_step_is_resumed_from_that_step_running_each_later_step_once(
    tmp_path, clock, monkeypatch, died_in
):
    w: World = build_world(tmp_path, clock, rate=0.0)
    try:
        crash_in = [died_in]
        ran = spy_on_steps(monkeypatch, crash_in)
        dead = EmergencyService(w.rt, FAST)
        with pytest.raises(SimulatedCrash):
            dead.run(dead.begin("crash drill", actor="tester", trigger="test").id)
        seq_id = dead.store.running_id()
        died = next(s for s in SEQUENCE if s.name == died_in)
        assert seq_id is not None and dead.store.info(seq_id).steps_done == died.number - 1
        assert ran == [s.name for s in SEQUENCE if s.number <= died.number]
        ran.clear()
        clock.advance(FAST.lease_seconds + 1)  # the dead runner's heartbeat has lapsed

        assert EmergencyService(w.rt, FAST).resume_unfinished(wait=True, timeout=60) == seq_id

        view = dead.view(seq_id)
        assert ran == [s.name for s in SEQUENCE if s.number >= died.number]
        assert view["status"] == "flat" and view["resumed"] == 1 and _positions(w) == []
        assert step_rows(view) == [(n, name, title, "done") for n, name, title in STORED]
        resumed = w.rt.audit.query(kind="emergency.resumed")
        assert [e["message"].split(" ")[6] for e in resumed] == [f"{died.number - 1}/6"]
    finally:
        _dispose(w)


def test_a_step_that_breaks_is_recorded_failed_and_the_steps_after_it_still_run(world, monkeypatch):
    def broken(self: Step, ctx: StepContext) -> StepOutcome:
        raise RuntimeError("venue exploded")

    cleanup = next(s for s in SEQUENCE if s.name == "cleanup")
    monkeypatch.setattr(type(cleanup), "run", broken)
    svc = EmergencyService(world.rt, FAST)

    view = svc.wait(svc.start("broken step drill", actor="tester", trigger="test").id, timeout=60)

    rows = {s["name"]: (s["status"], s["detail"]) for s in view["steps"]}
    assert rows["cleanup"] == ("failed", "failed: RuntimeError: venue exploded")
    assert rows["record"][0] == "done" and view["status"] == "flat"  # verified flat in step 4, recorded after
    assert any(e["message"].endswith("step 5/6 Cancel leftover protective and orphan orders: failed: "
                                     "RuntimeError: venue exploded")
               for e in world.rt.audit.query(kind="emergency.step"))


def test_when_recording_breaks_the_running_slot_is_freed_and_the_sequence_says_check_by_hand_never_flat(
    world, monkeypatch
):
    def broken(self: Step, ctx: StepContext) -> StepOutcome:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Record, "run", broken)
    svc = EmergencyService(world.rt, FAST)

    view = svc.wait(svc.start("broken record drill", actor="tester", trigger="test").id, timeout=60)

    assert view["status"] == "left_open" and not view["running"] and svc.store.running_id() is None
    assert view["summary"] == "the record step failed: RuntimeError: disk full; check the positions by hand"
    assert view["steps"][-1]["status"] == "failed" and view["steps_done"] == len(SEQUENCE)


# -- the surfaces read it -----------------------------------------------------------------------------------------
def test_the_panel_shows_the_step_count_from_the_table(world):
    client = world.apps[0].test_client()
    login(client)

    panel = client.get("/emergency").get_data(as_text=True)

    assert f'aria-valuemax="{len(SEQUENCE)}"' in panel and f"0 / {len(SEQUENCE)} steps" in panel
