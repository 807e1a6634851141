"""The simulated account's own shortcuts build exactly what the plain constructors build."""

from __future__ import annotations

from decimal import Decimal

from riskmgr.backtest.account import closed_trade
from riskmgr.core.clock import from_ms
from riskmgr.risk.context import ClosedTrade


def test_a_closed_trade_built_by_the_account_equals_the_constructors_in_every_field():
    at = from_ms(1_704_067_200_000)

    fast, plain = closed_trade(at, Decimal("-12.3456")), ClosedTrade(at, Decimal("-12.3456"))

    assert type(fast) is ClosedTrade
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert vars(fast) == vars(plain)


def _account(side_long: bool = True):
    from riskmgr.backtest.account import PendingEntry, SimAccount
    from riskmgr.backtest.engine import build_series
    from riskmgr.core.domain import PositionSide
    from tests.backtest.test_fastpath import conservative

    inp, _ = conservative(200, 1, rearm=False)
    acct = SimAccount(build_series(inp), inp.spec, inp.config, 0)
    side = PositionSide.LONG if side_long else PositionSide.SHORT
    return acct, PendingEntry(side, Decimal("0.013"), Decimal(39000), Decimal(42000), None, 6)


def test_the_account_clock_gives_from_ms_and_remembers_the_last_instant_only():
    from riskmgr.backtest.account import time_at

    acct, _ = _account()
    first, later = 1_704_067_200_000, 1_704_067_200_000 + 900_000

    at = time_at(acct, first)
    again = time_at(acct, first)
    moved = time_at(acct, later)

    assert at == from_ms(first) and again is at and at.tzinfo == from_ms(first).tzinfo
    assert moved == from_ms(later) and time_at(acct, first) == from_ms(first)
    assert time_at(acct, -1) == from_ms(-1)  # before the epoch too


def test_an_opened_position_holds_what_the_keyword_constructor_gives_in_every_field():
    from dataclasses import fields

    from riskmgr.backtest.account import Holding

    acct, pending = _account(side_long=False)
    price, fee = Decimal("40123.4"), Decimal("0.26")

    acct._open(5, pending, price, fee, 6)

    h = acct.held()
    plain = Holding(side=pending.side, qty=pending.qty, opened_qty=pending.qty, entry=price, entry_bar=5,
                    entry_ms=int(acct.s.ts[5]), stop=pending.stop, target=pending.target, liquidation=h.liquidation,
                    margin=h.margin, leverage=acct.cfg.leverage, entry_fee=fee, target_from=6, fees=fee)
    assert h.liquidation is not None and h.liquidation > 0
    assert [getattr(h, f.name) for f in fields(Holding)] == [getattr(plain, f.name) for f in fields(Holding)]


def test_closed_trades_read_between_closes_keep_their_order_and_every_column():
    acct, pending = _account()
    first_price, second_price = Decimal("40100.5"), Decimal("39950.1")

    acct._open(5, pending, Decimal("40000.0"), Decimal("0.2"), 5)
    acct.close(9, pending.qty, first_price, "take_profit", int(acct.s.ts[9]))
    early = acct.trades
    assert len(early) == 1 and early.exit_bar == [9]
    acct._open(12, pending, Decimal("40001.0"), Decimal("0.3"), 12)
    half = pending.qty / 2
    acct.close(14, half, second_price, "partial_take_profit", int(acct.s.ts[14]))
    acct.close(15, pending.qty - half, second_price, "stop_loss", int(acct.s.ts[15]))
    t = acct.trades

    assert t is early and len(t) == 2
    assert (t.entry_bar, t.exit_bar, t.side, t.reason) == ([5, 12], [9, 15], [1, 1], ["take_profit", "stop_loss"])
    assert t.entry_ms == [int(acct.s.ts[5]), int(acct.s.ts[12])] and t.exit_ms == [int(acct.s.ts[9]),
                                                                                      int(acct.s.ts[15])]
    assert t.qty == [pending.qty] * 2 and t.entry_price == [Decimal("40000.0"), Decimal("40001.0")]
    assert t.exit_price == [first_price, second_price] and t.stop == [pending.stop] * 2
    assert t.target == [pending.target] * 2 and t.funding == [Decimal(0)] * 2
    fee_rate = acct.cfg.fill.taker_fee
    assert t.gross_pnl[0] == (first_price - Decimal("40000.0")) * pending.qty
    assert t.fees[0] == Decimal("0.2") + first_price * pending.qty * fee_rate
    assert t.net_pnl == [g - f + u for g, f, u in zip(t.gross_pnl, t.fees, t.funding, strict=True)]
    assert [r.closed_at for r in acct.recent] == [from_ms(acct.s.close_ms(j)) for j in (15, 14, 9)]


def test_funding_paid_at_an_open_is_the_fill_models_payment_times_the_instants_to_the_last_digit():
    from dataclasses import replace

    import numpy as np

    from riskmgr.backtest.account import price_of
    from riskmgr.exchanges import fills as fm

    for long in (True, False):
        for rate in (Decimal("0.0001"), Decimal("-0.000375"), Decimal(0)):
            acct, pending = _account(side_long=long)
            acct.cfg = replace(acct.cfg, funding_rate=rate)
            funding = np.zeros(len(acct.s), dtype=np.int64)
            funding[7] = 2
            acct.s = replace(acct.s, funding=funding)
            acct._open(5, pending, Decimal("40000.0"), Decimal("0.2"), 5)
            wallet, h = acct.wallet, acct.held()

            acct._pay_funding(7)

            expected = fm.funding_payment(pending.side, pending.qty, price_of(acct.s.open[7]), rate) * 2
            zero = Decimal(0)  # the holding's and the run's funding start at 0
            assert str(acct.wallet) == str(wallet + expected) and str(h.funding) == str(zero + expected)
            assert str(acct.funding_total) == str(zero + expected)
