"""The read contract, run against every venue adapter: balance, positions and open orders (stops and targets)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from riskmgr.accounts.monitor import read_account
from riskmgr.core.domain import AccountStatus, OrderType, PositionSide
from riskmgr.exchanges.reader import AccountReader
from tests.exchanges.contract.harness import Harness

MONEY_FIELDS = ("wallet", "equity", "available", "margin_used", "unrealized_pnl")


# -- balance ----------------------------------------------------------------------------------------------------
def test_the_balance_is_usdt_in_exact_decimals_as_the_venue_reported_it(venue: Harness):
    expected = venue.given_balance()

    balance = venue.adapter.fetch_balance()

    assert balance.currency == "USDT"
    assert all(isinstance(getattr(balance, f), Decimal) and getattr(balance, f).is_finite() for f in MONEY_FIELDS)
    assert (balance.equity, balance.wallet, balance.available, balance.unrealized_pnl) == (
        expected.equity, expected.wallet, expected.available, expected.unrealized_pnl
    )


def test_equity_is_the_wallet_plus_unrealized_pnl(venue: Harness):
    venue.given_balance()

    balance = venue.adapter.fetch_balance()

    assert balance.equity == balance.wallet + balance.unrealized_pnl


def test_an_estimated_equity_names_its_formula_and_a_reported_one_does_not(venue: Harness):
    venue.given_balance()

    balance = venue.adapter.fetch_balance()

    if venue.declared.equity_estimated:  # the venue sends no equity: the figure is a sum, and says which
        assert balance.equity_formula and "available" in balance.equity_formula
    else:
        assert balance.equity_formula is None


def test_a_balance_read_through_the_poll_is_stamped_with_the_time_of_the_read(venue: Harness):
    venue.given_balance()
    venue.given_long_position()
    venue.given_protected_position_and_a_resting_order()
    read_at = datetime(2026, 12, 3, 5, 0, 7, tzinfo=UTC)

    snapshot = read_account(AccountReader(venue.adapter), read_at, budget_seconds=0)

    # a Balance carries no time of its own: the poll stamps the whole read, and only a read that succeeded
    assert (snapshot.status, snapshot.fetched_at, snapshot.attempted_at) == (AccountStatus.OK, read_at, read_at)
    assert snapshot.balance == venue.adapter.fetch_balance()
    assert (snapshot.account, snapshot.exchange) == (venue.adapter.account, venue.adapter.exchange)


# -- positions --------------------------------------------------------------------------------------------------
def test_a_position_reports_side_size_entry_and_mark_as_decimals(venue: Harness):
    expected = venue.given_long_position()

    (position,) = venue.adapter.fetch_positions()

    assert (position.symbol, position.side, position.size, position.entry_price, position.mark_price) == (
        expected.symbol, expected.side, expected.size, expected.entry_price, expected.mark_price
    )
    assert all(isinstance(v, Decimal) for v in (position.size, position.entry_price, position.mark_price,
                                                position.leverage, position.unrealized_pnl))
    assert position.size > 0 and position.leverage > 0


def test_a_positions_identity_names_it_and_stays_the_same_from_read_to_read(venue: Harness):
    venue.given_long_position()

    (first,) = venue.adapter.fetch_positions()
    (again,) = venue.adapter.fetch_positions()

    assert first.identity == again.identity
    assert first.identity.startswith(f"{first.symbol}|{first.side.value}|")
    if venue.declared.position_ids:  # the venue's own id keeps a later position on the same side apart
        assert first.position_id and f"id={first.position_id}" in first.identity
    if venue.declared.open_times:  # a reopened position on the same side has another open time
        assert first.opened_at is not None and first.opened_at.tzinfo is not None
        assert f"opened={first.opened_at.isoformat()}" in first.identity
    else:  # neither id nor open time: the entry price tells a reopened position apart
        assert first.opened_at is None and first.identity.endswith(f"|entry={first.entry_price.normalize():f}")


def test_an_account_without_positions_reads_as_an_empty_list(venue: Harness):
    venue.given_flat()

    assert venue.adapter.fetch_positions() == []


# -- open orders ------------------------------------------------------------------------------------------------
def test_open_orders_include_the_stop_loss_and_the_take_profit_recognised_as_such(venue: Harness):
    expected = venue.given_protected_position_and_a_resting_order()

    orders = {o.id: o for o in venue.adapter.fetch_open_orders()}

    stop, target, plain = orders[expected.stop_id], orders[expected.target_id], orders[expected.plain_id]
    assert (stop.type, stop.is_stop_loss, stop.is_take_profit, stop.trigger_price) == (
        OrderType.STOP_MARKET, True, False, expected.stop_trigger
    )
    assert (target.type, target.is_take_profit, target.is_stop_loss, target.trigger_price) == (
        OrderType.TAKE_PROFIT_MARKET, True, False, expected.target_trigger
    )
    assert (plain.type, plain.is_protective, plain.status.is_open) == (OrderType.LIMIT, False, True)


def test_a_protective_order_sells_a_long_and_buys_back_a_short(venue: Harness):
    venue.given_protected_position_and_a_resting_order()

    protective = [o for o in venue.adapter.fetch_open_orders() if o.is_protective]

    assert len(protective) >= 2
    for order in protective:
        assert isinstance(order.position_side, PositionSide), order
        assert order.side is order.position_side.close_order_side, order
        assert order.reduce_only or order.close_position, order
        assert order.status.is_open and isinstance(order.trigger_price, Decimal), order
