"""A paper liquidation is a real loss on the paper account: it is audited and alerted like any forced close, once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.alerts.settings import DEFAULT_ON
from riskmgr.app import features
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType
from riskmgr.core.events import Event
from riskmgr.exchanges.paper import notices as paper_notices
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.persistence.extensions import db
from tests.exchanges.conftest import BTC, FakeMarket

D = Decimal


@pytest.fixture
def seen(rt) -> list[Event]:
    events: list[Event] = []
    rt.events.subscribe(lambda e: events.append(e) if e.kind == "paper.liquidation" else None)
    return events


def liquidate_a_10x_long(rt, market: FakeMarket, clock) -> None:
    """0.02 BTC at 50000, 10x isolated: margin 100, liquidation at 50000 x (1 - 0.1 + 0.005) = 45250."""
    s = rt.settings
    paper = PaperExchange("paper", rt.engine, market, rt.clock, start_balance=s.paper_start_balance,
                          taker_fee=s.paper_taker_fee, maker_fee=s.paper_maker_fee, slippage_bps=s.paper_slippage_bps)
    paper.set_leverage(BTC, 10)
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.02")))  # fee 0.5
    clock.advance(60)
    market.bar(BTC, "50000", "50000", "45000", "45100")
    clock.advance(60)
    paper.sync()  # the one-second tick job would do this


def test_a_paper_liquidation_is_audited_and_alerted_once_with_its_realized_loss(rt, fake_market, paper_clock, seen):
    liquidate_a_10x_long(rt, fake_market, paper_clock)

    poll_cycle(rt, features.poll_hooks())
    poll_cycle(rt, features.poll_hooks())

    # the margin (100: -95 realized at 45250 and the 5 maintenance margin forfeited) plus the 0.5 opening fee
    [audit] = rt.audit.query(kind="paper.liquidation")
    assert audit["account"] == "paper"
    assert "liquidated the isolated long 0.02 BTC/USDT:USDT at 45250" in audit["message"]
    assert "realized loss 100.5 USDT" in audit["message"]
    [event] = seen
    assert event.account == "paper"
    assert {k: event.data[k] for k in ("symbol", "side", "qty", "price", "realized_pnl", "realized_loss")} == {
        "symbol": BTC, "side": "long", "qty": "0.02", "price": "45250", "realized_pnl": "-95", "realized_loss": "100.5",
    }


def test_paper_liquidation_alerts_are_on_by_default():
    assert "paper.liquidation" in DEFAULT_ON


def test_an_announcement_whose_audit_fails_is_made_on_the_next_poll(rt, fake_market, paper_clock, seen, monkeypatch):
    liquidate_a_10x_long(rt, fake_market, paper_clock)
    record = rt.audit.record

    def broken(*args, **kwargs):
        raise RuntimeError("audit database unavailable")

    monkeypatch.setattr(rt.audit, "record", broken)
    with pytest.raises(RuntimeError):
        paper_notices.announce_liquidations(rt)
    monkeypatch.setattr(rt.audit, "record", record)

    assert seen == []
    assert paper_notices.announce_liquidations(rt) == 1
    assert paper_notices.announce_liquidations(rt) == 0
    assert len(rt.audit.query(kind="paper.liquidation")) == 1 and len(seen) == 1


def test_two_apps_on_one_database_announce_a_liquidation_once(rt, tmp_path, fake_market, paper_clock, seen):
    other_app = create_app(rt.settings)
    other = other_app.extensions["riskmgr"]
    liquidate_a_10x_long(rt, fake_market, paper_clock)

    assert paper_notices.announce_liquidations(rt) + paper_notices.announce_liquidations(other) == 1
    assert len(rt.audit.query(kind="paper.liquidation")) == 1
    with other_app.app_context():
        db.engine.dispose()
