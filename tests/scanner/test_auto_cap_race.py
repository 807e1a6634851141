"""The daily cap of automatic entries holds under a race: the gate counts the day's entries inside the account's lock.

Auto-traders racing on one account (threads of one process, and two processes on one SQLite file) send entries
through the gateway as ``AutoTrader`` does: purpose "signal", the count as ``entry_counter`` gives it. Every entry
would pass every other rule; the venue answers late, so every sender has read the account before any entry is out.
Exactly ``cap`` entries are sent, and every other one is denied by the cap alone (with the count read before the
lock, as it was, five of the eight were sent: the open-positions cap stopped the rest).
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.clock import FixedClock
from riskmgr.market.sim.specs import SIM_SYMBOLS
from riskmgr.risk.gateway import GatewayResult
from riskmgr.scanner.auto import ACTOR, PURPOSE, entry_counter
from tests.conftest import T0, database_url, make_settings
from tests.support.paper_gate import lag, open_entry_slots, race, resting_buy

SYMBOLS = [s.spec.symbol for s in SIM_SYMBOLS]
CAP = 3
CAP_RULE = "auto_trade_daily_cap"


@pytest.fixture
def capped(runtime):
    runtime.limits_store.update({"auto_trade_daily_cap": CAP}, by="test")
    poll_cycle(runtime)
    return runtime


def auto_entries(runtime: Any, symbols: list[str], prefix: str) -> list[Any]:
    """Send one automatic entry per symbol at once, each from its own thread, as the auto-trader sends them."""
    requests = [resting_buy(runtime, s) for s in symbols]
    counter = entry_counter(runtime.gateway, "paper", runtime.limits_store.current(), runtime.clock.now())
    return race(len(requests), lambda i: runtime.gateway.submit(
        "paper", requests[i], actor=ACTOR, intent_id=f"signal:{prefix}{i}", purpose=PURPOSE,
        automatic_entries=counter))


def denied_rules(results: list[GatewayResult]) -> set[str]:
    return {d.rule for r in results if not r.accepted for d in r.denials}


def test_eight_threads_racing_automatic_entries_against_a_cap_of_three_then_exactly_three_are_sent(capped):
    lag(capped.specs.adapter("paper"), 0.03)

    results = auto_entries(capped, SYMBOLS[:8], "t")

    assert sum(r.accepted for r in results) == CAP
    assert denied_rules(results) == {CAP_RULE}
    assert len(open_entry_slots(capped)) == CAP
    assert capped.gateway.entries_since("paper", purpose=PURPOSE, since=T0.replace(hour=0)) == CAP


def _child(db_url: str, instance: str, symbols: list[str], prefix: str, start_at: float, out: Any) -> None:
    settings = make_settings(Path(instance).parent, extra={"clock": FixedClock(T0)})
    app = create_app(settings.with_changes(database_url=db_url, instance_path=Path(instance)))
    runtime = app.extensions["riskmgr"]
    lag(runtime.specs.adapter("paper"), 0.03)
    time.sleep(max(0.0, start_at - time.time()))
    results = auto_entries(runtime, symbols, prefix)
    out.put([(r.accepted, sorted(d.rule for d in r.denials)) for r in results])


def test_two_processes_racing_four_automatic_entries_each_against_a_cap_of_three_then_exactly_three_are_sent(
        capped, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    db_url = database_url(tmp_path)
    start_at = time.time() + 8  # both children have built their app by then (spawn imports take a few seconds)
    procs = [ctx.Process(target=_child, args=(db_url, str(tmp_path / f"inst{n}"), SYMBOLS[n * 4:(n + 1) * 4],
                                              f"p{n}-", start_at, out)) for n in range(2)]
    for p in procs:
        p.start()
    results = [row for _ in procs for row in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)

    assert sum(accepted for accepted, _ in results) == CAP
    assert {rule for accepted, rules in results if not accepted for rule in rules} == {CAP_RULE}
    assert len(open_entry_slots(capped)) == CAP


def test_an_entry_that_failed_on_the_way_out_counts_against_the_cap(capped):
    paper = capped.specs.adapter("paper")

    def broken(request: Any) -> Any:
        raise RuntimeError("connection dropped mid-send")

    original, paper.place_order = paper.place_order, broken
    counter = entry_counter(capped.gateway, "paper", capped.limits_store.current(), capped.clock.now())
    with pytest.raises(RuntimeError):
        capped.gateway.submit("paper", resting_buy(capped, SYMBOLS[0]), actor=ACTOR, intent_id="signal:x",
                              purpose=PURPOSE, automatic_entries=counter)
    paper.place_order = original

    assert counter() == 1  # it may be out: when unsure, it counts


@pytest.mark.parametrize("reply", [OSError("database is locked"), None, "0", -1])
def test_an_automatic_entry_whose_count_cannot_be_read_is_denied_and_nothing_is_sent(capped, reply):
    def counter() -> Any:
        if isinstance(reply, Exception):
            raise reply
        return reply

    result = capped.gateway.submit("paper", resting_buy(capped, SYMBOLS[0]), actor=ACTOR, intent_id="signal:u",
                                   purpose=PURPOSE, automatic_entries=counter)

    assert not result.accepted
    assert [d.rule for d in result.denials] == [CAP_RULE]
    assert "the automatic entries of this risk day cannot be counted" in result.message
    assert capped.specs.adapter("paper").fetch_open_orders() == []
    [event] = capped.audit.query(kind="order.denied")
    assert "cannot be counted" in event["message"]
