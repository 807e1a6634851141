"""A position's identity is never reused: on the paper venue (not a SQLite row id) and, through
``Position.identity``, on live venues that reuse their own ids. The monitor acts on each position once, not once per
reused id: the issue's reproduction, end to end on the paper venue with the real monitor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.app import features
from riskmgr.core.domain import MarginMode, OrderRequest, OrderSide, OrderType, Position, PositionSide
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.exchanges.paper.models import PaperPosition
from riskmgr.persistence.models import OrderIntent
from tests.exchanges.conftest import BTC, FakeMarket

D = Decimal


def buy(paper: PaperExchange, qty: str = "0.1") -> None:
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D(qty)))


def row_ids(engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(PaperPosition.id)))


# -- the paper venue ----------------------------------------------------------------------------------------------
def test_deleting_the_highest_row_then_opening_again_gives_a_new_identity_though_sqlite_reuses_the_row_id(
    paper, paper_engine
):
    buy(paper)
    first = paper.fetch_positions()[0]
    first_row = row_ids(paper_engine)
    paper.close_position(BTC, PositionSide.LONG)
    buy(paper)  # same clock instant, same symbol, side and entry price: only the identity can tell them apart
    second = paper.fetch_positions()[0]

    if paper_engine.dialect.name == "sqlite":
        assert row_ids(paper_engine) == first_row  # SQLite handed out the deleted row id again
    assert second.position_id != first.position_id
    assert len(second.position_id or "") == 32
    assert second.identity != first.identity


def test_a_reset_account_never_hands_out_an_identity_it_used_before(paper):
    seen = set()
    for _ in range(3):
        buy(paper)
        seen.add(paper.fetch_positions()[0].position_id)
        paper.reset()

    assert len(seen) == 3


def test_a_flip_opens_a_position_with_a_new_identity(paper):
    buy(paper, "0.1")
    long_id = paper.fetch_positions()[0].position_id
    paper.place_order(OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, D("0.15")))

    [short] = paper.fetch_positions()
    assert short.side is PositionSide.SHORT and short.position_id != long_id


# -- live venues: one definition in the domain --------------------------------------------------------------------
def live(position_id: str | None, opened_at: datetime | None, entry: str = "50000") -> Position:
    return Position(BTC, PositionSide.LONG, D("0.1"), D(entry), D(entry), D(5), MarginMode.ISOLATED, None, D(0),
                    opened_at=opened_at, position_id=position_id)


def test_a_venue_id_reused_for_a_later_position_still_gives_a_new_identity_by_its_open_time():
    opened = datetime(2024, 1, 1, 8, tzinfo=UTC)
    first, later = live("7", opened), live("7", opened + timedelta(minutes=3))

    assert first.identity != later.identity
    assert first.identity == "BTC/USDT:USDT|long|id=7|opened=2024-01-01T08:00:00+00:00"


def test_identity_falls_back_to_the_open_time_then_to_the_entry_price_only_when_nothing_else_is_known():
    opened = datetime(2024, 1, 1, 8, tzinfo=UTC)

    assert live(None, opened).identity == "BTC/USDT:USDT|long|opened=2024-01-01T08:00:00+00:00"
    assert live(None, None, "50000.50").identity == "BTC/USDT:USDT|long|entry=50000.5"
    assert live(None, opened).identity != live(None, None).identity


def test_the_monitor_the_watchdog_and_the_emergency_trigger_key_on_the_domain_identity():
    from riskmgr.accounts import watchdog as protection_watchdog
    from riskmgr.risk.emergency import triggers as emergency_triggers

    position = live("7", datetime(2024, 1, 1, 8, tzinfo=UTC))

    assert protection_watchdog.position_identity(position) == position.identity
    assert not hasattr(emergency_triggers, "position_identity")  # one definition: Position.identity


# -- the reproduction with the real monitor ---------------------------------------------------------------
def handle(rt, market: FakeMarket) -> PaperExchange:
    """A second handle on the app's paper account (the class keeps no state: both see the same account)."""
    s = rt.settings
    return PaperExchange("paper", rt.engine, market, rt.clock, start_balance=s.paper_start_balance,
                         taker_fee=s.paper_taker_fee, maker_fee=s.paper_maker_fee, slippage_bps=s.paper_slippage_bps)


def open_long(paper: PaperExchange, market: FakeMarket, clock, price: str = "50000") -> None:
    """Open a protected long of 0.02 BTC at ``price`` (a stop 10 % away, so the monitor and not a trigger acts)."""
    clock.advance(60)
    market.price(BTC, price)
    buy(paper, "0.02")
    paper.place_position_protection(BTC, PositionSide.LONG, stop_loss=D(price) * D("0.9"))


def poll(rt, market: FakeMarket, clock, price: str) -> None:
    clock.advance(60)
    market.price(BTC, price)
    poll_cycle(rt, features.poll_hooks())


def monitor_intents(rt, purpose: str) -> list[OrderIntent]:
    with Session(rt.engine) as session:
        return list(session.scalars(select(OrderIntent).where(OrderIntent.purpose == purpose)))


def test_position_b_at_minus_5_1_pct_is_closed_after_position_a_on_the_same_symbol_and_side_was_closed_at_minus_5(
    rt, fake_market, paper_clock
):
    paper = handle(rt, fake_market)
    open_long(paper, fake_market, paper_clock)
    poll(rt, fake_market, paper_clock, "47500")  # A: -5 %, the emergency close
    assert paper.fetch_positions() == []

    open_long(paper, fake_market, paper_clock)  # B: same symbol and side, after A
    poll(rt, fake_market, paper_clock, "47450")  # B: -5.1 %

    assert paper.fetch_positions() == []
    assert len([i for i in monitor_intents(rt, "monitor-close") if i.status == "accepted"]) == 2


def test_position_b_gets_its_own_partial_take_profit_after_position_a_took_one(rt, fake_market, paper_clock):
    rt.limits_store.update({"partial_tp_enabled": True}, "test")
    paper = handle(rt, fake_market)
    open_long(paper, fake_market, paper_clock)
    poll(rt, fake_market, paper_clock, "51500")  # A: +3 %, half of it taken off
    assert paper.fetch_positions()[0].size == D("0.01")
    paper.close_position(BTC, PositionSide.LONG)

    open_long(paper, fake_market, paper_clock)  # B
    poll(rt, fake_market, paper_clock, "51600")
    poll(rt, fake_market, paper_clock, "51700")  # a second cycle takes nothing more off B

    assert paper.fetch_positions()[0].size == D("0.01")
    assert len([i for i in monitor_intents(rt, "partial-take-profit") if i.status == "accepted"]) == 2
