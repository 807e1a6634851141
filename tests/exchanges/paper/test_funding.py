"""The paper venue charges funding as the backtester does: at 00:00, 08:00 and 16:00 UTC, on the positions open at
that instant, quantity x price then x rate (longs pay a positive rate, shorts receive it); the wallet moves and
each close's net P&L carries its share. Every figure below is computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts.registry import build_adapters
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.exchanges import fills as fm
from riskmgr.exchanges.paper.models import PaperFunding
from tests.conftest import make_settings
from tests.exchanges.conftest import BTC

D = Decimal
RATE = D("0.0001")  # 0.01 % per 8 h


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def payments(engine) -> list[tuple[datetime, str, Decimal, Decimal]]:
    with Session(engine) as session:
        rows = session.scalars(select(PaperFunding).order_by(PaperFunding.ts))
        return [(r.ts, r.side, r.price, r.amount) for r in rows]


def test_funding_instants_are_every_8_hours_from_midnight_utc_in_the_half_open_interval():
    assert fm.funding_instants(at(1, 0), at(1, 16)) == [at(1, 8), at(1, 16)]
    assert fm.funding_instants(at(1, 7, 59), at(1, 8)) == [at(1, 8)]
    assert fm.funding_instants(at(1, 8), at(1, 15, 59)) == []
    assert fm.funding_instants(at(1, 17), at(2, 1)) == [at(2, 0)]


def test_a_long_pays_funding_at_8_utc_at_the_price_then_and_its_close_nets_it(make_paper, fake_market, paper_clock,
                                                                                  paper_engine):
    paper = make_paper(funding_rate=RATE)
    paper_clock.set(at(1, 7))
    fake_market.price(BTC, "50000")
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))  # fee 2.5
    paper_clock.set(at(1, 7, 59))
    fake_market.price(BTC, "50100")
    paper_clock.set(at(1, 8, 30))
    fake_market.price(BTC, "50200")

    paper.close_position(BTC, PositionSide.LONG)

    # 08:00: 0.1 x 50100 x 0.0001 = 0.501 paid; close: +20 realized - 2.51 fee - 2.5 opening fee - 0.501 = 14.489
    assert payments(paper_engine) == [(at(1, 8), "long", D("50100"), D("-0.501"))]
    [trade] = paper.fetch_closed_trades(at(1, 0))
    assert trade.realized_pnl == D("14.489")
    assert paper.fetch_balance().wallet == D("10014.489")  # 10000 - 2.5 - 0.501 + 20 - 2.51


def test_a_short_receives_funding_only_at_the_instants_it_is_open(make_paper, fake_market, paper_clock, paper_engine):
    paper = make_paper(funding_rate=RATE)
    paper_clock.set(at(1, 10))  # after 08:00: that instant finds no position
    fake_market.price(BTC, "50000")
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, D("0.1")))  # fee 2.5
    paper_clock.set(at(1, 15))
    fake_market.price(BTC, "49000")
    paper_clock.set(at(1, 23, 59))
    fake_market.price(BTC, "51000")
    paper_clock.set(at(2, 1))
    fake_market.price(BTC, "50000")
    paper.close_position(BTC, PositionSide.SHORT)  # fee 2.5
    paper_clock.set(at(2, 9))  # 08:00 on day 2 finds the position closed

    balance = paper.fetch_balance()

    # 16:00: 0.1 x 49000 x 0.0001 = 0.49; 00:00: 0.1 x 51000 x 0.0001 = 0.51; net 0 - 2.5 - 2.5 + 1.00 = -4
    assert payments(paper_engine) == [(at(1, 16), "short", D("49000"), D("0.49")),
                                      (at(2, 0), "short", D("51000"), D("0.51"))]
    assert [t.realized_pnl for t in paper.fetch_closed_trades(at(1, 0))] == [D("-4")]
    assert balance.wallet == D("9996")


def test_a_partial_close_takes_its_share_of_the_funding_and_the_rest_stays_with_the_position(
    make_paper, fake_market, paper_clock
):
    paper = make_paper(funding_rate=RATE)
    paper_clock.set(at(1, 7))
    fake_market.price(BTC, "50000")
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))  # fee 2.5
    paper_clock.set(at(1, 9))
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, D("0.05"), reduce_only=True))  # fee 1.25
    paper_clock.set(at(1, 17))
    paper.close_position(BTC, PositionSide.LONG)  # fee 1.25

    # 08:00 on 0.1: -0.5 (half, -0.25, to the first close); 16:00 on 0.05: -0.25, so the second close carries -0.5
    second, partial = paper.fetch_closed_trades(at(1, 0))
    assert [partial.realized_pnl, second.realized_pnl] == [D("-2.75"), D("-3.0")]
    assert paper.fetch_balance().wallet == D("9994.25")  # 10000 - 5 fees - 0.75 funding


def test_the_app_builds_paper_accounts_that_charge_the_configured_rate(tmp_path, paper_engine, fake_market,
                                                                       paper_clock):
    settings = make_settings(tmp_path, paper_slippage_bps=D(0), paper_funding_pct_8h=D("0.03"))
    paper = build_adapters(settings, paper_engine, fake_market, paper_clock)["paper"]
    paper_clock.set(at(1, 7))
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))  # at 50000, fee 2.5
    paper_clock.set(at(1, 9))

    # 0.03 % of 0.1 x 50000 = 1.5
    assert paper.fetch_balance().wallet == D("9996")
