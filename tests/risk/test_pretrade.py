"""The pre-trade picture: contexts built from real data, denials for what is unknown, and the receipt's numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import OrderRequest, OrderSide, OrderType, PositionSide
from riskmgr.core.errors import TemporaryError
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.persistence.extensions import db
from riskmgr.persistence.models import AccountState
from riskmgr.risk.pretrade import PreTrade
from riskmgr.risk.rules import ALL_RULES
from tests.conftest import make_settings
from tests.exchanges.conftest import FakeMarket
from tests.fakes import BTC, ReadOnlyFake, long_btc
from tests.support.apps import runtime_on

D = Decimal


def limit(side: OrderSide = OrderSide.BUY, qty: str = "0", price: str = "50000", stop: str | None = "49000",
          target: str | None = "52000", leverage: int | None = 3, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(
        BTC, side, OrderType.LIMIT, D(qty), price=D(price), stop_loss=None if stop is None else D(stop),
        take_profit=None if target is None else D(target), leverage=leverage, reduce_only=reduce_only,
    )


def by_rule(verdicts) -> dict:
    return {v.rule: v for v in verdicts}


@pytest.fixture
def polled(runtime):
    """The default app (paper account of 10000 USDT on the simulated market), read once at T0."""
    poll_cycle(runtime)
    return runtime


# -- the receipt against hand-computed Decimal cases (simulated BTC: step 0.001, tick 0.1, mmr 0.4 %) -------------
# Paper costs: taker fee 0.05 %, slippage 2 bps per fill, fills rounded a tick against us. Entry 50000, stop 49000:
# slippage (50000 + 49000) * 0.0002 + 2 * 0.1 = 20; fees (99000 + 20) * 0.0005 = 49.51; loss per BTC 1069.51.
def test_receipt_sizes_a_long_from_the_stop_and_caps_it_at_the_max_position_notional(polled):
    receipt = PreTrade(polled).receipt("paper", limit(), size=True)

    f = receipt["figures"]
    # budget 10000 * 1.5 % = 150 over a loss of 1069.51 per BTC = 0.14025114 BTC; 1000 USDT / 50000 caps it at 0.02
    assert (receipt["qty"], f["size"]["raw_qty"], f["size"]["sized"]) == ("0.02", "0.14025114", True)
    assert [c["limit"] for c in f["size"]["caps"]] == ["max_position_notional"]
    assert f["size"]["notional"] == "1000" and f["size"]["margin"] == "333.33333333"
    # 0.02 BTC: price 20 + fees 0.9902 + slippage 0.4 = 21.3902 USDT if stopped
    assert f["risk"] == {
        "usdt": "21.3902", "pct_of_equity": "0.2139", "limit_pct": "1.5", "budget_usdt": "150", "equity": "10000",
        "stop_distance": "1000", "label": "risk if stopped, incl. fees and slippage",
        "split": {"price_move": "20", "fees": "0.9902", "slippage": "0.4"}, "round_trip_per_unit": "69.51",
        "costs": {"taker_fee_rate": "0.0005", "slippage_rate": "0.0002", "price_tick": "0.1",
                  "fee_source": "paper venue setting", "slippage_source": "paper venue setting",
                  "source": "taker fee 0.05 % (paper venue setting), slippage 0.02 % per fill (paper venue setting)"},
        "existing_qty": "0", "existing_usdt": "0", "min_stop_distance": "208.53",
    }
    # liquidation 50000 * (1 - (1/3 - 0.004)) = 33533.333...; 15466.666... beyond the stop = 30.9333 % of entry
    assert f["liquidation"] == {"price": "33533.33333333", "stop_loss": "49000", "beyond_stop": "15466.66666667",
                                "beyond_stop_pct_of_entry": "30.9333", "maintenance_margin_rate": "0.004"}
    assert f["leverage"] == {"setting": 3, "limit": 5, "exchange_max": 125, "account_after": "0.1",
                             "notional_after": "1000", "notional_cap": "50000", "pending_notional": "0"}
    # the day may lose 3 % of 10000 = 300; a stop-out of this order would leave 278.6098
    assert f["daily_loss"] == {"day_start_equity": "10000", "equity": "10000", "loss_pct": "0", "limit_pct": "3",
                               "headroom_usdt": "300", "headroom_after_stop_usdt": "278.6098"}
    assert f["open_positions"] == {"count": 0, "pending": 0, "split": "0 open", "limit": 5, "new_position": True,
                                   "after": 1}
    assert f["notional"] == {"existing": "0", "pending": "0", "new": "1000", "after": "1000", "limit": "1000"}
    assert f["reward_risk"] == {"ratio": "2", "min": "2", "take_profit": "52000"}
    assert receipt["allowed"] is True and receipt["denials"] == []
    assert [v["rule"] for v in receipt["verdicts"]] == ["trading_state", *(r.name for r in ALL_RULES)]


def test_receipt_of_a_given_quantity_rounds_it_down_to_the_step(polled):
    receipt = PreTrade(polled).receipt("paper", limit(qty="0.0159"), size=False)

    f = receipt["figures"]
    assert (receipt["qty"], f["size"]["sized"], f["size"]["notional"], f["size"]["margin"]) == (
        "0.015", False, "750", "250")
    # 0.015 * 1069.51 = 16.04265 if stopped, costs included
    assert (f["risk"]["usdt"], f["risk"]["pct_of_equity"], f["daily_loss"]["headroom_after_stop_usdt"]) == (
        "16.04265", "0.1604", "283.95735")


def test_receipt_sized_without_a_cap_risks_at_most_the_budget_costs_included(polled):
    polled.limits_store.update({"max_position_notional": "10000"}, "test")

    receipt = PreTrade(polled).receipt("paper", limit(leverage=5), size=True)

    f = receipt["figures"]
    # 150 / 1069.51 = 0.14025 -> 0.14 BTC; if stopped: price 140 + fees 6.9314 + slippage 2.8 = 149.7314 USDT
    assert (receipt["qty"], f["size"]["caps"]) == ("0.14", [])
    assert (f["size"]["notional"], f["size"]["margin"]) == ("7000", "1400")
    assert (f["risk"]["usdt"], f["risk"]["pct_of_equity"], f["leverage"]["account_after"]) == (
        "149.7314", "1.4973", "0.7")
    assert f["risk"]["split"] == {"price_move": "140", "fees": "6.9314", "slippage": "2.8"}
    # 50000 * (1 - (1/5 - 0.004)) = 40200, 8800 below the stop = 17.6 % of entry
    assert (f["liquidation"]["price"], f["liquidation"]["beyond_stop"]) == ("40200", "8800")
    assert f["liquidation"]["beyond_stop_pct_of_entry"] == "17.6"
    assert receipt["allowed"] is True


def test_receipt_of_a_short_puts_the_liquidation_above_the_stop(polled):
    order = limit(side=OrderSide.SELL, stop="51000", target="48000", leverage=2)

    f = PreTrade(polled).receipt("paper", order, size=True)["figures"]

    # Bitget's formula is the most cautious here: 50000 * 1.5 / (1 + 0.004 + 0.0006) = 74656.58, 23656.58 above 51000
    assert (f["size"]["qty"], f["liquidation"]["price"], f["liquidation"]["beyond_stop"]) == (
        "0.02", "74656.57973323", "23656.57973323"
    )
    # per BTC: 1000 + slippage 101000 * 0.0002 + 0.2 = 20.4 + fees 101020.4 * 0.0005 = 50.5102 -> 1070.9102
    assert (f["risk"]["usdt"], f["reward_risk"]["ratio"]) == ("21.418204", "2")


def test_size_below_the_minimum_is_denied_naming_both_numbers(polled):
    polled.limits_store.update({"risk_per_trade_pct": "0.01"}, "test")

    receipt = PreTrade(polled).receipt("paper", limit(stop="45000", target="60000"), size=True)

    # budget 10000 * 0.01 % = 1 USDT over 5000 + costs 66.7096 (slippage 95000 * 0.0002 + 0.2 = 19.2, fees
    # 95019.2 * 0.0005 = 47.5096) = 0.0002 BTC, rounded down to 0
    assert receipt["qty"] == "0" and receipt["allowed"] is False
    assert receipt["denials"] == [{
        "allowed": False, "rule": "risk_per_trade", "label": "Risk per trade", "until": None,
        "reason": "quantity 0 BTC is below the minimum 0.001 BTC (risk budget 1.00 USDT over a stop distance of 5000 "
                  "plus round-trip costs of 66.71 per BTC)",
    }]


def test_market_order_is_judged_at_the_accounts_own_mark(polled):
    mark = polled.market.ticker(BTC).mark
    order = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D(0), stop_loss=mark - 500, take_profit=mark + 1000,
                         leverage=3)

    receipt = PreTrade(polled).receipt("paper", order, size=True)

    assert D(receipt["entry_price"]) == mark
    assert receipt["entry_source"] == f"mark {mark} at 2026-11-20 12:00:00 UTC"
    assert receipt["figures"]["risk"]["stop_distance"] == "500"


def test_reduce_only_receipt_checks_the_trading_state_alone(polled):
    receipt = PreTrade(polled).receipt("paper", limit(qty="0.01", reduce_only=True), size=False)

    assert [v["rule"] for v in receipt["verdicts"]] == ["trading_state"]
    assert receipt["figures"] is None and receipt["allowed"] is True


# -- unknown inputs deny ------------------------------------------------------------------------------------------
def test_never_read_account_denies_every_rule(runtime):
    verdicts = PreTrade(runtime).verdicts("paper", limit(qty="0.01"))

    assert [v.rule for v in verdicts] == [r.name for r in ALL_RULES] and not any(v.allowed for v in verdicts)
    assert verdicts[0].reason == "the account has never been read"
    assert verdicts[1].reason == "not checked: the account has never been read"


def test_stale_snapshot_denies_new_risk(polled, clock):
    clock.advance(31)

    verdict = by_rule(PreTrade(polled).verdicts("paper", limit(qty="0.01")))["data_fresh"]

    assert not verdict.allowed and verdict.reason == "account data is 31 s old, older than the limit 30 s"


def test_day_baseline_from_an_earlier_day_denies_the_daily_loss_rule(polled):
    with Session(polled.engine) as session, session.begin():
        session.get(AccountState, "paper").day = "2026-11-19"

    verdicts = by_rule(PreTrade(polled).verdicts("paper", limit(qty="0.01")))

    assert not verdicts["daily_loss"].allowed
    assert verdicts["daily_loss"].reason == (
        "the opening equity on record is for 2026-11-19; the first good read of 2026-11-20 sets today's: no new risk"
    )
    assert verdicts["drawdown"].allowed


def test_missing_leverage_without_an_open_position_denies(polled):
    verdicts = PreTrade(polled).verdicts("paper", limit(qty="0.01", leverage=None))

    assert by_rule(verdicts)["max_leverage"].reason.startswith("no leverage given and no open BTC/USDT:USDT long")
    assert not any(v.allowed for v in verdicts)


def test_zero_quantity_after_rounding_is_denied(polled):
    verdict = by_rule(PreTrade(polled).verdicts("paper", limit(qty="0")))["risk_per_trade"]

    assert verdict.reason == "quantity 0 BTC after rounding down to the step is not above 0"


# -- closed trades: the losing streak ---------------------------------------------------------------------------
class FakeWithTrades(ReadOnlyFake):
    def __init__(self, account: str, equity: str = "10000"):
        super().__init__(account, equity)
        self.trades_error: Exception | None = None

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        if self.trades_error is not None:
            raise self.trades_error
        return []


def fake_runtime(tmp_path, clock, adapter):
    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": {adapter.account: adapter}}))
    with app.app_context():
        db.create_all()
    rt = app.extensions["riskmgr"]
    poll_cycle(rt)
    return rt


def test_consecutive_losses_denies_when_the_venue_cannot_report_closed_trades(tmp_path, clock):
    rt = fake_runtime(tmp_path, clock, ReadOnlyFake("a", "10000"))

    verdicts = by_rule(PreTrade(rt).verdicts("a", limit(qty="0.01")))

    assert not verdicts["consecutive_losses"].allowed
    assert verdicts["consecutive_losses"].reason == (
        "closed trades cannot be read (fetch_closed_trades: the fake adapter cannot report closed trades): "
        "the losing streak is unknown: no new risk"
    )
    assert [r for r, v in verdicts.items() if not v.allowed] == ["consecutive_losses"]


def test_consecutive_losses_denies_when_closed_trades_fail_to_load(tmp_path, clock):
    fake = FakeWithTrades("a")
    rt = fake_runtime(tmp_path, clock, fake)
    fake.trades_error = TemporaryError("timeout", account="a", operation="fetch_closed_trades")

    verdict = by_rule(PreTrade(rt).verdicts("a", limit(qty="0.01")))["consecutive_losses"]

    assert not verdict.allowed and "fetch_closed_trades: timeout" in verdict.reason


def test_leverage_is_taken_from_the_open_position_when_not_given(tmp_path, clock):
    fake = FakeWithTrades("a")
    fake.positions = [long_btc(size="0.001", entry="50000")]
    rt = fake_runtime(tmp_path, clock, fake)

    verdicts = by_rule(PreTrade(rt).verdicts("a", limit(qty="0.001", leverage=None)))

    assert verdicts["max_leverage"].allowed and verdicts["max_leverage"].reason.endswith("leverage setting 5x")
    assert verdicts["max_open_positions"].reason == (
        "adds to the open BTC/USDT:USDT long; not a new position (1 open of at most 5)")


def test_a_position_opened_since_the_last_poll_counts_against_the_cap(tmp_path, clock):
    fake = FakeWithTrades("a")
    rt = fake_runtime(tmp_path, clock, fake)
    rt.limits_store.update({"max_open_positions": 1}, "test")
    fake.positions = [replace(long_btc(), symbol="ETH/USDT:USDT")]

    verdict = by_rule(PreTrade(rt).verdicts("a", limit(qty="0.001")))["max_open_positions"]

    assert not verdict.allowed and verdict.reason == "1 open → 2 of at most 1 positions"


def test_positions_that_cannot_be_read_deny_new_risk(tmp_path, clock):
    fake = FakeWithTrades("a")
    rt = fake_runtime(tmp_path, clock, fake)
    fake.fail_with = TemporaryError("timeout", account="a", operation="fetch_positions")

    verdicts = PreTrade(rt).verdicts("a", limit(qty="0.001"))

    assert verdicts[0].reason == "the open positions cannot be read: fetch_positions: timeout"
    assert not any(v.allowed for v in verdicts)


@pytest.fixture
def fake_market(clock):
    return FakeMarket(clock, {BTC: D(50000)})


@pytest.fixture
def paper_rt(tmp_path, clock, fake_market):
    with runtime_on(tmp_path, clock, market=fake_market, paper_slippage_bps=D(0)) as runtime:
        yield runtime


def round_trip(paper: PaperExchange, clock, market: FakeMarket, open_at: str, close_at: str) -> None:
    market.price(BTC, open_at)
    paper.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.1")))
    clock.advance(60)
    market.price(BTC, close_at)
    paper.close_position(BTC, PositionSide.LONG)
    clock.advance(60)


def paper_of(rt, market) -> PaperExchange:
    """A second handle on the app's paper account (the class keeps no state: both see the same account)."""
    s = rt.settings
    return PaperExchange("paper", rt.engine, market, rt.clock, start_balance=s.paper_start_balance,
                         taker_fee=s.paper_taker_fee, maker_fee=s.paper_maker_fee, slippage_bps=s.paper_slippage_bps)


def test_paper_reports_each_close_newest_first_with_its_pnl_after_fees(paper_rt, clock, fake_market):
    paper = paper_of(paper_rt, fake_market)
    round_trip(paper, clock, fake_market, "50000", "51000")
    round_trip(paper, clock, fake_market, "51000", "50000")

    trades = paper_rt.accounts["paper"].fetch_closed_trades(clock.now() - timedelta(hours=1))

    # +100 - 2.5 - 2.55 = 94.95; then -100 - 2.55 - 2.5 = -105.05
    assert [t.realized_pnl for t in trades] == [D("-105.05"), D("94.95")]
    assert [t.closed_at for t in trades] == [datetime(2026, 11, 20, 12, 3, tzinfo=UTC),
                                              datetime(2026, 11, 20, 12, 1, tzinfo=UTC)]
    assert paper_rt.accounts["paper"].fetch_closed_trades(clock.now()) == []


def test_three_losing_paper_closes_start_the_cooldown_and_it_ends(paper_rt, clock, fake_market):
    paper = paper_of(paper_rt, fake_market)
    for _ in range(3):
        round_trip(paper, clock, fake_market, "50000", "49900")
    poll_cycle(paper_rt)

    denied = by_rule(PreTrade(paper_rt).verdicts("paper", limit(qty="0.005", price="49000", stop="48000",
                                                                  target="51000")))["consecutive_losses"]
    clock.advance(minutes=60)
    poll_cycle(paper_rt)
    allowed = by_rule(PreTrade(paper_rt).verdicts("paper", limit(qty="0.005", price="49000", stop="48000",
                                                                   target="51000")))["consecutive_losses"]

    # the last close was at 12:05; the 60 min cooldown ends at 13:05
    assert not denied.allowed and denied.until == datetime(2026, 11, 20, 13, 5, tzinfo=UTC)
    assert allowed.allowed and "cooldown ended" in allowed.reason


# -- a venue that lists no maintenance margin rate (Bitget, Bitunix): read per symbol where the rule needs it ----
class TieredFake(FakeWithTrades):
    def __init__(self, account: str):
        super().__init__(account)
        self.rate_reads = 0
        self.rate_error: Exception | None = None

    def fetch_markets(self):  # type: ignore[no-untyped-def]
        return {s: replace(spec, maintenance_margin_rate=None) for s, spec in super().fetch_markets().items()}

    def fetch_maintenance_margin_rate(self, symbol):  # type: ignore[no-untyped-def]
        self.rate_reads += 1
        if self.rate_error is not None:
            raise self.rate_error
        return D("0.004")


def test_an_unlisted_maintenance_rate_is_read_for_the_receipt(tmp_path, clock):
    fake = TieredFake("a")
    rt = fake_runtime(tmp_path, clock, fake)

    receipt = PreTrade(rt).receipt("a", limit(qty="0.01"), size=False)

    assert receipt["figures"]["liquidation"]["maintenance_margin_rate"] == "0.004"
    assert {v["rule"]: v["allowed"] for v in receipt["verdicts"]}["liquidation_beyond_stop"] is True
    assert fake.rate_reads == 1


def test_an_unreadable_maintenance_rate_denies_new_risk_naming_the_failure(tmp_path, clock):
    fake = TieredFake("a")
    rt = fake_runtime(tmp_path, clock, fake)
    fake.rate_error = TemporaryError("timeout", account="a", operation="fetch_maintenance_margin_rate")

    verdicts = by_rule(PreTrade(rt).verdicts("a", limit(qty="0.01")))

    assert verdicts["liquidation_beyond_stop"].reason == (
        "the maintenance margin rate of BTC/USDT:USDT cannot be read: fetch_maintenance_margin_rate: timeout"
    )
    assert not any(v.allowed for v in verdicts.values())


def test_a_poll_landing_while_an_order_is_prepared_never_reads_as_data_from_the_future(polled, clock, monkeypatch):
    real, landed = polled.snapshots.latest, []

    def latest():  # a poll lands, the clock a millisecond on, just as the gate reads the snapshots
        if not landed:
            landed.append(True)
            clock.advance(0.001)
            poll_cycle(polled)
        return real()

    monkeypatch.setattr(polled.snapshots, "latest", latest)

    fresh = by_rule(PreTrade(polled).verdicts("paper", limit(qty="0.01")))["data_fresh"]

    assert landed and fresh.allowed, fresh.reason
    assert fresh.reason.startswith("account data is 0")
