"""Live venues: the journal shows what their closed-trade history reports, "unknown" for what it does not, the exit
reason from riskmgr's own close order, and an honest "history unavailable" when the venue cannot be read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from riskmgr.core.domain import PositionSide
from riskmgr.core.errors import NotSupportedError, TemporaryError
from riskmgr.exchanges.reader import AccountReader
from riskmgr.journal.closes import close_result
from riskmgr.journal.filters import parse_filter
from riskmgr.journal.service import JournalService
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.context import ClosedTrade
from tests.conftest import API_TOKEN
from tests.fakes import BTC, ReadOnlyFake

D = Decimal


class HistoryFake(ReadOnlyFake):
    """A live venue whose closed-trade history is what the test sets (or fails when told to)."""

    exchange = "bitunix"

    def __init__(self, account: str):
        super().__init__(account)
        self.closed: list[ClosedTrade] = []
        self.history_error: Exception | None = None

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        if self.history_error is not None:
            raise self.history_error
        return [t for t in self.closed if t.closed_at >= since]


@pytest.fixture
def live(runtime):
    fake = HistoryFake("live")
    runtime.accounts["live"] = AccountReader(fake)
    return fake


def intent(runtime, client_id: str, purpose: str, at) -> None:
    with Session(runtime.engine) as s, s.begin():
        s.add(OrderIntent(client_id=client_id, account="live", created_at=at, updated_at=at, purpose=purpose,
                          actor="operator", status="accepted",
                          request={"symbol": BTC, "side": "sell", "reduce_only": True}))


def journal(runtime, **args):
    return runtime.feature(JournalService).journal(parse_filter(args, list(runtime.accounts), runtime.clock.now()))


def test_a_venue_close_has_its_reported_pnl_unknown_prices_and_the_reason_of_our_close_order(runtime, live, clock):
    closed_at = clock.now() - timedelta(minutes=10)
    intent(runtime, "rmclose1", "emergency-close", closed_at - timedelta(seconds=3))
    live.closed = [ClosedTrade(closed_at, D("-12.5"), BTC, PositionSide.LONG),
                   ClosedTrade(closed_at - timedelta(hours=2), D("4"), BTC, PositionSide.SHORT)]

    trades = [t for t in journal(runtime, account="live").trades]

    newest, older = trades
    assert (newest.realized_pnl, newest.exit_reason, newest.close_client_id) == (D("-12.5"), "emergency", "rmclose1")
    assert (newest.entry_price, newest.exit_price, newest.qty, newest.fees, newest.funding, newest.pnl_pct) == (
        None,) * 6
    assert older.exit_reason == "unknown" and "does not say why" in older.exit_detail
    assert "Bitunix" in newest.pnl_basis


def test_unknown_figures_are_null_in_json_and_unknown_in_csv_never_zero(runtime, live, client, clock):
    live.closed = [ClosedTrade(clock.now() - timedelta(minutes=5), D("3"), BTC, PositionSide.LONG)]
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    [trade] = client.get("/api/trades?account=live", headers=headers).get_json()["trades"]
    text = client.get("/api/trades.csv?account=live", headers=headers).get_data(as_text=True)

    assert trade["fees"] is None and trade["funding"] is None and trade["entry_price"] is None
    row = text.splitlines()[1]
    assert row.count("unknown") >= 7 and ",0," not in row


@pytest.mark.parametrize("error", [TemporaryError("timeout", account="live", operation="fetch_closed_trades"),
                                   NotSupportedError("cannot report closed trades", account="live",
                                                     operation="fetch_closed_trades")])
def test_a_venue_whose_history_fails_is_unavailable_with_its_reason_and_the_rest_still_shows(runtime, live, error):
    live.history_error = error

    result = journal(runtime)

    status = {a.account: a for a in result.accounts}
    assert status["live"].available is False and str(error) in status["live"].reason
    assert status["paper"].available is True and not result.complete


def test_close_result_of_a_venue_close_gives_its_pnl_and_says_the_fill_price_is_not_reported(runtime, live, clock):
    sent = clock.now() - timedelta(seconds=30)
    intent(runtime, "rmclose2", "close", sent)

    pending = close_result(runtime, "live", "rmclose2")
    live.closed = [ClosedTrade(sent + timedelta(seconds=1), D("-2.25"), BTC, PositionSide.LONG)]
    filled = close_result(runtime, "live", "rmclose2")
    live.history_error = TemporaryError("timeout", account="live", operation="fetch_closed_trades")
    unknown = close_result(runtime, "live", "rmclose2")

    assert pending["status"] == "pending" and pending["realized_pnl"] is None
    assert (filled["status"], filled["realized_pnl"], filled["fill_price"]) == ("filled", "-2.25", None)
    assert "no exit price" in filled["note"]
    assert unknown["status"] == "unknown" and "timeout" in unknown["note"]


def test_the_detail_a_venue_reports_is_shown_with_the_pct_of_entry_notional(runtime, live, clock):
    closed_at = clock.now() - timedelta(minutes=1)
    live.closed = [ClosedTrade(closed_at, D("98.5"), BTC, PositionSide.LONG, opened_at=closed_at - timedelta(hours=2),
                               entry_price=D(60000), exit_price=D(61000), qty=D("0.1"), trading_fees=D("1.5"),
                               venue_id="p9")]

    [trade] = journal(runtime, account="live").trades

    assert (trade.id, trade.entry_price, trade.exit_price, trade.qty, trade.fees) == (
        "bitunix:live:p9", D(60000), D(61000), D("0.1"), D("1.5"))
    assert trade.duration_seconds == 7200 and trade.pnl_pct == D("1.64")  # 98.5 of 6000
    assert trade.funding is None  # not in the report: unknown, not 0


def test_stored_closes_outlive_the_venue_window_and_show_while_the_venue_is_down(runtime, live, clock):
    old = ClosedTrade(clock.now() - timedelta(days=5), D("7"), BTC, PositionSide.LONG, venue_id="p1")
    live.closed = [old]
    assert [t.id for t in journal(runtime, account="live").trades] == ["bitunix:live:p1"]

    live.closed = [ClosedTrade(clock.now() - timedelta(hours=1), D("-1"), BTC, PositionSide.SHORT, venue_id="p2")]
    both = journal(runtime, account="live")  # the venue forgot p1: the stored copy keeps it
    live.history_error = TemporaryError("timeout", account="live", operation="fetch_closed_trades")
    down = journal(runtime, account="live")

    assert [t.id for t in both.trades] == ["bitunix:live:p2", "bitunix:live:p1"] and both.complete
    assert [t.id for t in down.trades] == ["bitunix:live:p2", "bitunix:live:p1"]
    [status] = down.accounts
    assert not down.complete and status.stored_only and "timeout" in status.reason


def test_the_same_close_read_twice_is_stored_once(runtime, live, clock):
    live.closed = [ClosedTrade(clock.now() - timedelta(hours=1), D("2"), BTC, PositionSide.LONG)]  # no position id

    journal(runtime, account="live")
    again = journal(runtime, account="live")

    assert len(again.trades) == 1


def test_the_poll_hook_captures_new_closes_of_a_live_account_at_most_every_ten_minutes(runtime, live, clock):
    from riskmgr.accounts.monitor import poll_cycle
    from riskmgr.journal.feature import poll_hook
    from riskmgr.journal.store import load

    live.closed = [ClosedTrade(clock.now() - timedelta(hours=1), D("2"), BTC, PositionSide.LONG, venue_id="a")]
    snapshots = poll_cycle(runtime)
    poll_hook(runtime, snapshots)
    live.closed.append(ClosedTrade(clock.now(), D("3"), BTC, PositionSide.LONG, venue_id="b"))
    poll_hook(runtime, snapshots)  # too soon: not read again
    stored_early = load(runtime.engine, "live", clock.now() - timedelta(days=1), clock.now())
    clock.advance(minutes=11)
    poll_hook(runtime, snapshots)

    stored = load(runtime.engine, "live", clock.now() - timedelta(days=1), clock.now())
    assert [tid for tid, _ in stored_early] == ["bitunix:live:a"]
    assert [tid for tid, _ in stored] == ["bitunix:live:b", "bitunix:live:a"]
