"""The journal shows real paper trades, opened and closed through the gate, with the ledger's own figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from riskmgr.journal.filters import parse_filter
from riskmgr.journal.service import JournalService
from tests.exchanges.conftest import BTC, ETH
from tests.journal.conftest import close_long, open_long

D = Decimal


def journal(rt, **args):
    flt = parse_filter(args, list(rt.accounts), rt.clock.now())
    return rt.feature(JournalService).journal(flt)


def test_a_manual_close_shows_entry_exit_size_pnl_after_fees_and_duration(jrt, market, clock):
    open_long(jrt, market, clock, BTC, "50000", "0.01", "e1")
    clock.advance(240)  # five minutes in the position
    close_long(jrt, market, clock, BTC, "51000", "c1")

    [trade] = journal(jrt).trades

    # +10 realized; fees 0.05 % of 500 (open) and of 510 (close): 0.25 + 0.255
    assert (trade.symbol, trade.side, trade.entry_price, trade.exit_price, trade.qty) == (
        BTC, "long", D(50000), D(51000), D("0.01"))
    assert trade.fees == D("0.505")
    assert trade.funding == 0  # the fake market charges no funding: a real zero from the ledger
    assert trade.realized_pnl == D("9.495")
    assert trade.pnl_pct == D("1.90")  # 9.495 of 500 notional
    assert trade.duration_seconds == 300
    assert trade.exit_reason == "manual" and "close by tester" in trade.exit_detail
    assert trade.realized_pnl == jrt.accounts["paper"].fetch_closed_trades(clock.now() - timedelta(hours=1))[0]\
        .realized_pnl


def test_a_stop_fill_is_a_stop_exit_and_an_emergency_close_is_an_emergency_exit(jrt, market, clock):
    open_long(jrt, market, clock, BTC, "50000", "0.01", "e1", stop="49000")
    market.price(BTC, "48500")  # through the stop: the paper venue fills it at its trigger
    clock.advance(60)
    open_long(jrt, market, clock, ETH, "3000", "0.1", "e2")
    close_long(jrt, market, clock, ETH, "2990", "c2", purpose="emergency-close")

    trades = journal(jrt).trades

    reasons = {t.symbol: t.exit_reason for t in trades}
    assert reasons == {BTC: "stop", ETH: "emergency"}
    stop = next(t for t in trades if t.symbol == BTC)
    assert stop.realized_pnl < 0 and stop.exit_price <= D(49000)


def test_a_partial_close_is_its_own_trade_with_its_share_of_the_opening_fee(jrt, market, clock):
    open_long(jrt, market, clock, BTC, "50000", "0.02", "e1")
    market.price(BTC, "50500")
    from riskmgr.core.domain import OrderRequest, OrderSide, OrderType

    half = OrderRequest(BTC, OrderSide.SELL, OrderType.MARKET, D("0.01"), reduce_only=True)
    assert jrt.gateway.submit("paper", half, actor="tester", intent_id="half", purpose="partial-take-profit").accepted
    clock.advance(60)
    close_long(jrt, market, clock, BTC, "51000", "rest")

    partial, whole = sorted(journal(jrt).trades, key=lambda t: t.exit_time)

    assert (partial.qty, partial.exit_reason, whole.qty, whole.exit_reason) == (D("0.01"), "target", D("0.01"),
                                                                                "manual")
    assert partial.fees == D("0.25") + D("0.2525")  # half of the 0.5 opening fee + 0.05 % of 505
    assert partial.entry_time == whole.entry_time


def test_filters_select_by_symbol_side_reason_and_time(jrt, market, clock):
    open_long(jrt, market, clock, BTC, "50000", "0.01", "e1")
    close_long(jrt, market, clock, BTC, "50100", "c1")
    middle = clock.now()
    clock.advance(3600)
    open_long(jrt, market, clock, ETH, "3000", "0.1", "e2")
    close_long(jrt, market, clock, ETH, "3010", "c2", purpose="emergency-close")

    assert [t.symbol for t in journal(jrt, symbol=ETH).trades] == [ETH]
    assert [t.symbol for t in journal(jrt, reason="emergency").trades] == [ETH]
    assert [t.symbol for t in journal(jrt, to=middle.isoformat()).trades] == [BTC]
    assert journal(jrt, side="short").trades == []


def test_an_account_whose_history_fails_is_reported_unavailable_with_the_reason_not_as_empty(jrt, clock,
                                                                                           monkeypatch):
    from riskmgr.core.errors import TemporaryError

    def down():
        raise TemporaryError("timeout after 5 s", account="paper", operation="sync")

    monkeypatch.setattr(jrt.specs.adapter("paper"), "sync", down)
    first = journal(jrt)
    clock.advance(30)
    again = journal(jrt)

    [status] = again.accounts
    assert not again.complete and first.trades == []
    assert status.available is False and "timeout after 5 s" in status.reason
    assert status.unavailable_since == first.accounts[0].checked_at  # since the first failure, not the last


def test_the_signal_that_opened_a_trade_is_named(jrt, market, clock):
    from sqlalchemy.orm import Session

    from riskmgr.risk.gateway import client_id_for
    from riskmgr.scanner.models import SignalDecision, SignalRecord

    open_long(jrt, market, clock, BTC, "50000", "0.01", "signal:k1")
    with Session(jrt.engine) as s, s.begin():
        record = SignalRecord(key="k1", rule="sma_cross", source="sim", symbol=BTC, timeframe="1h", side="long",
                              entry=D(50000), stop=D(49000), target=D(52000), reward_risk=D(2), confidence=80,
                              quality=D(70), detail={}, created_at=clock.now(), valid_until=clock.now(),
                              first_seen_at=clock.now(), last_seen_at=clock.now(), status="taken",
                              status_reason="taken")
        s.add(record)
        s.flush()
        s.add(SignalDecision(signal_id=record.id, account="paper", decided_at=clock.now(), decision="taken",
                             reason="ok", client_id=client_id_for("paper", "signal:k1")))
    close_long(jrt, market, clock, BTC, "50100", "c1")

    [trade] = journal(jrt).trades

    assert trade.signal is not None and (trade.signal.key, trade.signal.rule) == ("k1", "sma_cross")
