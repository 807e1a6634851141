"""The liquidation estimate is never less cautious than any venue's documented isolated formula, nor the paper venue.

The venue formulas are written out here again from the venues' documents, independently of the code under test.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from riskmgr.core.domain import PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.models import money
from riskmgr.risk.sizing import liquidation_price, liquidation_price_on_tick

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT


def binance(side: PositionSide, entry: Decimal, lev: int, mmr: Decimal) -> Decimal:
    # Binance USDⓈ-M, isolated, cum 0: LP = (WB - side*Q*EP) / (Q*MMR - side*Q) with WB = Q*EP/lev
    return (entry / lev - side.sign * entry) / (mmr - side.sign)


def bitget(side: PositionSide, entry: Decimal, lev: int, mmr: Decimal) -> Decimal:
    # Bitget: (margin - size*entry*dir) / (size*(MMR + TakerFeeRatio - dir)), taker fee 0.06 %
    return (entry / lev - entry * side.sign) / (mmr + D("0.0006") - side.sign)


def bitunix(side: PositionSide, entry: Decimal, lev: int, mmr: Decimal) -> Decimal:
    # Bitunix: liquidated when initial margin + P&L falls to open price * size * MMR
    return entry - side.sign * (entry / lev - entry * mmr)


def more_cautious_or_equal(side: PositionSide, ours: Decimal, theirs: Decimal) -> bool:
    # a long's liquidation comes sooner the higher it is, a short's the lower; allow 28-digit arithmetic noise
    slack = theirs * D("1e-20")
    return ours >= theirs - slack if side is LONG else ours <= theirs + slack


sides = st.sampled_from([LONG, SHORT])
leverages = st.integers(min_value=1, max_value=125)
rates = st.decimals(min_value=D("0.001"), max_value=D("0.1"), places=4)
entries = st.decimals(min_value=D("0.0001"), max_value=D(500000), places=4).filter(lambda e: e > 0)


@settings(max_examples=600, deadline=None)
@given(side=sides, lev=leverages, mmr=rates, entry=entries)
def test_for_any_leverage_rate_and_side_the_estimate_is_never_less_cautious_than_a_documented_formula(
    side, lev, mmr, entry
):
    assume(mmr < D(1) / lev)

    ours = liquidation_price(side, entry, lev, mmr)

    for venue in (binance, bitget, bitunix):
        theirs = venue(side, entry, lev, mmr)
        assert more_cautious_or_equal(side, ours, theirs), (venue.__name__, ours, theirs)
    assert more_cautious_or_equal(side, ours, fm.isolated_liquidation_price(side, entry, lev, mmr))


ticks = st.sampled_from([D("0.0001"), D("0.01"), D("0.1"), D("0.5"), D(1)])


@settings(max_examples=600, deadline=None)
@given(
    side=sides, lev=leverages, mmr=rates, tick=ticks,
    ticks_in_entry=st.integers(min_value=10, max_value=10**9), lots=st.integers(min_value=1, max_value=10**6),
)
def test_the_estimate_on_the_tick_is_never_less_cautious_than_the_paper_venues_own_liquidation(
    side, lev, mmr, tick, ticks_in_entry, lots
):
    assume(mmr < D(1) / lev)
    entry, size = ticks_in_entry * tick, lots * D("0.001")
    # what PaperLedger.liquidation_price computes for a fresh isolated position: stored margin, rounded cautiously
    raw = fm.isolated_liquidation_price_for_margin(side, entry, size, money(fm.initial_margin(entry, size, lev)), mmr)
    assume(raw is not None)
    venue = fm.round_to_tick(raw, tick, ROUND_CEILING if side is LONG else ROUND_FLOOR)

    ours = liquidation_price_on_tick(side, entry, lev, mmr, tick)

    assert ours >= venue if side is LONG else ours <= venue


def test_a_20x_short_at_50000_is_liquidated_no_later_than_binance_says():
    ours = liquidation_price(SHORT, D(50000), 20, D("0.005"))

    assert ours <= D("52238.81")  # Binance: 50000 * 1.05 / 1.005 = 52238.806
    assert round(ours, 2) == D("52207.64")  # Bitget's, fee included, is the most cautious: 52500 / 1.0056


def test_a_long_takes_the_highest_and_a_short_the_lowest_of_the_venue_formulas():
    # 10x at 60000, mmr 0.5 %: linear 54300 / 65700, Binance 54271.36 / 65671.64, Bitget 54304.10 / 65632.46
    assert round(liquidation_price(LONG, D(60000), 10, D("0.005")), 2) == D("54304.10")
    assert round(liquidation_price(SHORT, D(60000), 10, D("0.005")), 2) == D("65632.46")
    # at 2x with a 10 % rate the linear formula (Bitunix, the paper venue) is the most cautious for a long:
    # 60000 * 0.6 = 36000 against Bitget's 30000 / 0.8994 = 33355.57; for a short Bitget's still is: 90000 / 1.1006
    assert liquidation_price(LONG, D(60000), 2, D("0.1")) == D(36000)
    assert round(liquidation_price(SHORT, D(60000), 2, D("0.1")), 2) == D("81773.58")


def test_on_the_tick_the_estimate_rounds_towards_the_entry():
    assert liquidation_price_on_tick(LONG, D(60000), 10, D("0.005"), D("0.1")) == D("54304.2")
    assert liquidation_price_on_tick(SHORT, D(60000), 10, D("0.005"), D("0.1")) == D("65632.4")
