"""True risk on the paper venue: a trade sized at the budget and stopped at its stop loses at most the budget.

Real paper fills: the entry and the stop are market fills with the venue's slippage (rounded a tick against us)
and its taker fee, exactly as the paper venue books them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr.core.domain import OrderRequest, OrderType, PositionSide
from riskmgr.exchanges.fills import FillReason
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.costs import PAPER_SOURCE, trading_costs
from riskmgr.risk.sizing import SizingInput, size_position
from tests.exchanges.conftest import BTC

D = Decimal
ROOMY = RiskLimits().with_changes(max_position_notional="100000")


def test_paper_costs_are_the_venues_own_fee_and_slippage_settings(make_paper):
    paper = make_paper(slippage_bps=D(2))

    costs = trading_costs(paper, paper.fetch_markets()[BTC], RiskLimits())

    assert (costs.taker_fee_rate, costs.slippage_rate, costs.price_tick) == (D("0.0005"), D("0.0002"), D("0.1"))
    assert costs.fee_source == costs.slippage_source == PAPER_SOURCE
    assert costs.source == "taker fee 0.05 % (paper venue setting), slippage 0.02 % per fill (paper venue setting)"


@pytest.mark.parametrize(
    ("side", "stop", "target", "crash", "qty", "loss"),
    [
        # long at mark 50000.1: per BTC 750.1 + slippage 99250.1 * 0.0002 + 0.2 = 20.05002 + fees
        # (99250.1 + 20.05002) * 0.0005 = 49.63507501 -> 819.78509501; 150 / 819.78509501 = 0.18297 -> 0.182 BTC.
        # Fills: entry 50000.1 * 1.0002 = 50010.10002 -> 50010.2 (tick up), fee 50010.2 * 0.182 * 0.0005 = 4.5509282;
        # stop 49250 * 0.9998 = 49240.15 -> 49240.1 (tick down), fee 49240.1 * 0.182 * 0.0005 = 4.4808491;
        # loss 0.182 * (50010.2 - 49240.1) + 4.5509282 + 4.4808491 = 140.1582 + 9.0317773 = 149.1899773 <= 150
        (PositionSide.LONG, "49250", "51875.3", ("50000", "50000", "49100", "49100"), "0.182", "149.1899773"),
        # short at 50000.1: per BTC 750 + slippage 100750.2 * 0.0002 + 0.2 = 20.35004 + fees (100750.2 + 20.35004)
        # * 0.0005 = 50.38527502 -> 820.73531502; 150 / 820.73531502 -> 0.182 BTC. Fills: entry 50000.1 * 0.9998 =
        # 49990.09998 -> 49990 (tick down), fee 4.54909; stop 50750.1 * 1.0002 = 50760.25002 -> 50760.3 (tick up),
        # fee 4.6191873; loss 0.182 * 770.3 + 9.1682773 = 140.1946 + 9.1682773 = 149.3628773 <= 150
        (PositionSide.SHORT, "50750.1", "48125", ("50000", "50900", "50000", "50900"), "0.182", "149.3628773"),
    ],
)
def test_a_trade_sized_at_the_budget_and_stopped_at_its_stop_loses_at_most_the_budget(
    make_paper, fake_market, paper_clock, side, stop, target, crash, qty, loss
):
    paper = make_paper(slippage_bps=D(2))
    fake_market.price(BTC, "50000.1")
    spec = paper.fetch_markets()[BTC]
    equity = paper.fetch_balance().equity
    costs = trading_costs(paper, spec, ROOMY)
    sizing = size_position(SizingInput(side, D("50000.1"), D(stop), D(target), 5, equity, costs), spec, ROOMY)
    assert sizing.qty == D(qty) and sizing.risk_usdt <= sizing.risk_budget == D(150)

    paper.place_order(OrderRequest(BTC, side.entry_order_side, OrderType.MARKET, sizing.qty, leverage=5))
    paper.place_position_protection(BTC, side, stop_loss=D(stop), take_profit=None)
    paper_clock.advance(1)
    fake_market.bar(BTC, *crash)
    paper.sync()

    assert paper.fills()[0].reason is FillReason.STOP_LOSS and paper.fetch_positions() == []
    lost = equity - paper.fetch_balance().equity
    assert lost == D(loss)
    assert lost <= sizing.risk_usdt <= sizing.risk_budget
