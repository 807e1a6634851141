"""Trading a signal by hand: re-evaluated against the current book and mark, with re-centred levels, whatever
auto-trading decided; through the JSON API (/api/signals, /api/signals/plan) and ``flask signals plan``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from riskmgr.core.domain import AccountSnapshot, AccountStatus, MarginMode, Position, PositionSide
from riskmgr.core.formatting import dec
from riskmgr.risk.recentre import recentre
from riskmgr.risk.sizing import round_to_tick
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.history import Outcome
from riskmgr.signals.trade import Book, PlannedSignal, current_book, trade_now
from tests.conftest import T0

DOGE = "DOGE/USDT:USDT"


@pytest.fixture
def scanner(runtime):
    return runtime.feature(Scanner)


def _snapshot(runtime, clock, *symbols: str) -> None:
    """Store a fresh snapshot of the paper account holding ``symbols`` (none: a flat book)."""
    positions = tuple(Position(s, PositionSide.LONG, Decimal(100), Decimal("0.12"), Decimal("0.12"), Decimal(1),
                               MarginMode.ISOLATED, None, Decimal(0)) for s in symbols)
    runtime.snapshots.save([AccountSnapshot("paper", "paper", "paper", AccountStatus.OK, clock.now(), clock.now(),
                                            positions=positions)])


def _doge(api) -> dict:
    data = api.get("/api/signals").get_json()
    return next(s for s in data["signals"] + data["dropped"] if s["symbol"] == DOGE)


def _expected_levels(runtime, row) -> tuple[Decimal, Decimal, Decimal]:
    mark = runtime.market.ticker(DOGE).mark
    tick = runtime.market.specs()[DOGE].price_tick
    # a long's float-derived stop and target go onto the tick downwards first (stop no nearer, target no further)
    stop, target = (round_to_tick(Decimal(row[k]), tick, up=False) for k in ("stop", "target"))
    levels = recentre(PositionSide(row["side"]), Decimal(row["entry"]), stop, target, mark, tick)
    return mark, levels.stop, levels.target


# -- a signal auto-trading already decided stays tradable by hand ---------------------------------------------


def test_a_denied_signal_offers_the_ticket_with_levels_re_centred_on_the_current_mark(runtime, scanner, api, clock):
    _snapshot(runtime, clock)
    scanner.scan(trigger="schedule", auto_trade=False)
    record = scanner.history.history(1)[0]
    scanner.history.claim(_record_id(scanner, record["key"]), "paper")
    scanner.history.finish(_record_id(scanner, record["key"]), "paper",
                           Outcome("denied", "max_open_positions: 5 of 5 open"))
    clock.advance(seconds=40)  # the mark has moved since the signal's bar closed

    row = _doge(api)

    assert row["status"] == "denied"
    now = row["now"]
    assert now["allowed"] is True and now["code"] == "ok" and now["as_of"] == clock.now().isoformat()
    mark, stop, target = _expected_levels(runtime, row)
    query = parse_qs(urlsplit(now["url"]).query)
    assert query == {"symbol": [DOGE], "side": ["buy"], "stop_loss": [dec(stop)], "take_profit": [dec(target)],
                     "signal": [row["key"]]}
    assert (Decimal(now["levels"]["entry"]), Decimal(now["levels"]["stop_loss"])) == (mark, stop)
    # the same distances from the mark, rounded cautiously: the stop no nearer, the target no further
    assert mark - stop >= Decimal(row["entry"]) - Decimal(row["stop"])
    assert target - mark <= Decimal(row["target"]) - Decimal(row["entry"])
    assert "re-centred on mark" in now["levels"]["message"]
    tick = runtime.market.specs()[DOGE].price_tick
    assert all(Decimal(now["levels"][k]) % tick == 0 for k in ("stop_loss_before", "take_profit_before"))


def test_a_taken_signal_is_not_offered_while_its_position_is_open(runtime, scanner, api, clock):
    scanner.scan(trigger="schedule", auto_trade=False)
    key = scanner.history.history(1)[0]["key"]
    scanner.history.claim(_record_id(scanner, key), "paper")
    scanner.history.finish(_record_id(scanner, key), "paper", Outcome("taken", "order 7 accepted", "7"))
    _snapshot(runtime, clock, DOGE)

    now = _doge(api)["now"]

    assert (now["allowed"], now["code"], now["url"]) == (False, "held", None)
    assert now["reason"] == f"a position is open on {DOGE} (paper) now"


# -- statuses that refresh ----------------------------------------------------------------------------------


def test_a_signal_dropped_for_an_open_position_is_tradable_once_the_book_is_flat(runtime, scanner, api, clock):
    _snapshot(runtime, clock, DOGE)
    scanner.scan(trigger="schedule", auto_trade=False)
    dropped = _doge(api)
    assert dropped["drop_reason"] == "a position is already open on this symbol"
    assert (dropped["now"]["allowed"], dropped["now"]["code"]) == (False, "held")

    clock.advance(seconds=30)
    _snapshot(runtime, clock)  # the position was closed: the next poll sees a flat book

    row = _doge(api)

    assert row["status"] == "dropped" and row["status_at"] == T0.isoformat()  # what happened then, with its time
    assert row["now"]["allowed"] is True and row["now"]["book_as_of"] == clock.now().isoformat()
    assert row["now"]["reason"].startswith(f"no position open on {DOGE}")


def test_an_expired_signal_says_so_with_its_end_time(scanner, api, clock):
    scanner.scan(trigger="schedule", auto_trade=False)
    clock.advance(minutes=16)

    now = _doge(api)["now"]

    assert (now["allowed"], now["code"]) == (False, "expired")
    assert now["until"] == (T0 + timedelta(minutes=15)).isoformat()


def test_the_cooldown_after_an_automatic_entry_blocks_until_it_ends(runtime, scanner, api, clock):
    _snapshot(runtime, clock)
    scanner.scan(trigger="schedule", auto_trade=False)
    key = scanner.history.history(1)[0]["key"]
    scanner.history.claim(_record_id(scanner, key), "paper")
    scanner.history.finish(_record_id(scanner, key), "paper", Outcome("taken", "order 7 accepted", "7"))

    now = _doge(api)["now"]
    assert (now["allowed"], now["code"]) == (False, "cooldown")
    assert now["until"] == (T0 + timedelta(minutes=5)).isoformat()

    clock.advance(minutes=5)
    assert _doge(api)["now"]["allowed"] is True


def test_without_any_account_snapshot_the_answer_says_the_positions_are_not_known(scanner, api):
    scanner.scan(trigger="schedule", auto_trade=False)

    now = _doge(api)["now"]

    assert now["allowed"] is True and now["book_as_of"] is None and now["book_unknown"] == ["paper"]
    assert "no current snapshot of paper" in now["reason"]


# -- the mark and the market --------------------------------------------------------------------------------


def _plan(runtime, **changes) -> PlannedSignal:
    mark = runtime.market.ticker(DOGE).mark
    base = PlannedSignal("k", DOGE, PositionSide.LONG, mark, mark * Decimal("0.98"), mark * Decimal("1.05"), T0,
                         T0 + timedelta(minutes=15))
    return replace(base, **changes)


def test_a_mark_already_past_the_stop_or_target_is_named(runtime, clock):
    mark = runtime.market.ticker(DOGE).mark
    book = Book({}, clock.now(), [])
    args = (clock.now(), book, None, timedelta(minutes=5))

    past_stop = trade_now(runtime, "simulated", _plan(runtime, stop=mark * Decimal("1.01"),
                                                      target=mark * Decimal("1.1")), *args)
    past_target = trade_now(runtime, "simulated", _plan(runtime, entry=mark * Decimal("0.9"),
                                                        stop=mark * Decimal("0.8"), target=mark), *args)

    assert (past_stop["allowed"], past_stop["code"]) == (False, "past_stop")
    assert (past_target["allowed"], past_target["code"]) == (False, "past_target")
    assert "already past the target" in past_target["reason"]


def test_a_signal_from_other_prices_cannot_be_traded_on_the_paper_market(runtime, clock):
    answer = trade_now(runtime, "binance", _plan(runtime), clock.now(), Book({}, clock.now(), []), None,
                       timedelta(minutes=5))

    assert (answer["allowed"], answer["code"]) == (False, "other_market")
    assert "binance" in answer["reason"] and "simulated" in answer["reason"]


def test_the_book_names_who_holds_what_and_who_is_not_known(runtime, clock):
    _snapshot(runtime, clock, DOGE, "BTC/USDT:USDT")

    book = current_book(runtime)

    assert book.held == {DOGE: ["paper"], "BTC/USDT:USDT": ["paper"]}
    assert (book.as_of, book.unknown) == (clock.now(), [])


# -- the plan API and the CLI --------------------------------------------------------------------------------


def test_the_plan_api_answers_one_signal_by_key_or_symbol(scanner, api):
    scanner.scan(trigger="schedule", auto_trade=False)
    key = scanner.history.history(1)[0]["key"]

    by_key = api.get("/api/signals/plan", query_string={"key": key})
    by_symbol = api.get("/api/signals/plan", query_string={"symbol": "DOGEUSDT"})

    assert by_key.status_code == by_symbol.status_code == 200
    assert by_key.get_json()["key"] == by_symbol.get_json()["key"] == key
    assert by_key.get_json()["now"]["allowed"] is True


def test_the_plan_api_refuses_a_missing_or_unknown_signal(scanner, api):
    scanner.scan(trigger="schedule", auto_trade=False)

    missing = api.get("/api/signals/plan")
    unknown = api.get("/api/signals/plan", query_string={"key": "conservative|simulated|X|15m|1|long"})
    no_signal = api.get("/api/signals/plan", query_string={"symbol": "BTCUSDT"})

    assert missing.status_code == 400 and missing.get_json()["detail"]["field"] == "key"
    assert unknown.status_code == 404 and no_signal.status_code == 404


def test_flask_signals_plan_prints_whether_and_how_to_trade_now(scanner, runner):
    scanner.scan(trigger="schedule", auto_trade=False)

    result = runner.invoke(args=["signals", "plan", "DOGEUSDT"])

    assert result.exit_code == 0, result.output
    assert "recorded status: active" in result.output
    assert "tradable now" in result.output and "re-centred on mark" in result.output
    assert "/trade?symbol=DOGE%2FUSDT%3AUSDT&side=buy" in result.output


def test_flask_signals_plan_without_a_signal_fails_with_the_reason(scanner, runner):
    scanner.scan(trigger="schedule", auto_trade=False)

    result = runner.invoke(args=["signals", "plan", "BTCUSDT"])

    assert result.exit_code == 1 and "no signal on BTC/USDT:USDT in the latest scan" in result.output


def _record_id(scanner, key: str) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from riskmgr.scanner.models import SignalRecord

    with Session(scanner.runtime.engine) as session:
        return session.scalars(select(SignalRecord.id).where(SignalRecord.key == key)).one()
