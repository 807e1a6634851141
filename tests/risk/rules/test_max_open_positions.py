from decimal import Decimal

from riskmgr.core.domain import PositionSide
from riskmgr.risk.exposure import PendingEntry
from riskmgr.risk.rules import max_open_positions
from tests.risk.builders import context, intent, position

D = Decimal
OTHERS = tuple(position(symbol=f"C{i}/USDT:USDT", entry="10") for i in range(5))


def resting(symbol: str, side: PositionSide = PositionSide.LONG, source: str = "resting") -> PendingEntry:
    return PendingEntry(symbol, side, D(1), D(10), None, source, None)


def test_a_new_position_that_makes_the_limit_is_allowed():
    verdict = max_open_positions.check(context(positions=OTHERS[:4]))

    assert verdict.allowed
    assert verdict.reason == "4 open; this makes 5 of at most 5"


def test_a_new_position_beyond_the_limit_is_denied():
    verdict = max_open_positions.check(context(positions=OTHERS))

    assert not verdict.allowed
    assert verdict.reason == "5 open → 6 of at most 5 positions"


def test_resting_entries_count_as_the_positions_they_would_open():
    pending = (resting("R1/USDT:USDT"), resting("R2/USDT:USDT", source="in flight"))

    verdict = max_open_positions.check(context(positions=OTHERS[:3], pending=pending))

    assert not verdict.allowed
    assert verdict.reason == "3 open + 2 resting or in flight → 6 of at most 5 positions"


def test_a_resting_entry_on_an_open_symbol_and_side_is_not_a_second_position():
    pending = (resting(OTHERS[0].symbol), resting(OTHERS[1].symbol))

    verdict = max_open_positions.check(context(positions=OTHERS[:4], pending=pending))

    assert verdict.allowed
    assert verdict.reason == "4 open; this makes 5 of at most 5"


def test_adding_to_a_resting_entrys_symbol_and_side_is_not_a_new_position():
    pending = (resting("BTC/USDT:USDT"),)

    verdict = max_open_positions.check(context(positions=OTHERS, pending=pending))

    assert not verdict.allowed  # already 6 slots taken: 5 open + the resting BTC long
    verdict = max_open_positions.check(context(positions=OTHERS[:4], pending=pending))
    assert verdict.allowed
    assert verdict.reason.startswith("adds to the resting or in-flight BTC/USDT:USDT long; not a new position")


def test_adding_to_an_open_position_is_not_a_new_one():
    positions = (*OTHERS[:4], position())

    verdict = max_open_positions.check(context(positions=positions))

    assert verdict.allowed
    assert verdict.reason == "adds to the open BTC/USDT:USDT long; not a new position (5 open of at most 5)"


def test_the_opposite_side_of_an_open_symbol_counts_as_new():
    positions = (*OTHERS[:4], position(side=PositionSide.SHORT))

    assert not max_open_positions.check(context(positions=positions)).allowed


def test_reduce_only_orders_skip_the_rule():
    assert max_open_positions.check(context(positions=OTHERS, intent=intent(reduce_only=True))).allowed
