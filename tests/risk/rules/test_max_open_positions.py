from riskmgr.domain import PositionSide
from riskmgr.risk.rules import max_open_positions
from tests.risk.builders import context, intent, position

OTHERS = tuple(position(symbol=f"C{i}/USDT:USDT", entry="10") for i in range(5))


def test_a_new_position_that_makes_the_limit_is_allowed():
    verdict = max_open_positions.check(context(positions=OTHERS[:4]))

    assert verdict.allowed
    assert verdict.reason == "4 positions are open; this makes 5 of at most 5"


def test_a_new_position_beyond_the_limit_is_denied():
    verdict = max_open_positions.check(context(positions=OTHERS))

    assert not verdict.allowed
    assert verdict.reason == "5 positions are open; the limit is 5"


def test_adding_to_an_open_position_is_not_a_new_one():
    positions = (*OTHERS[:4], position())

    verdict = max_open_positions.check(context(positions=positions))

    assert verdict.allowed
    assert verdict.reason == "adds to the open BTC/USDT:USDT long; not a new position"


def test_the_opposite_side_of_an_open_symbol_counts_as_new():
    positions = (*OTHERS[:4], position(side=PositionSide.SHORT))

    assert not max_open_positions.check(context(positions=positions)).allowed


def test_reduce_only_orders_skip_the_rule():
    assert max_open_positions.check(context(positions=OTHERS, intent=intent(reduce_only=True))).allowed
