"""The stop-loss watchdog: restore a missing stop (paper, Bitunix, Bitget, Binance), never twice, escalate by policy."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
import responses

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.watchdog import WatchdogSettings, poll_hook, watchdog
from riskmgr.core.domain import (
    AccountStatus,
    MarginMode,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    TradingState,
)
from riskmgr.core.errors import InvalidOrderError, TemporaryError
from riskmgr.exchanges.paper.exchange import PaperExchange
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import RiskLimits
from riskmgr.risk.sizing import round_to_tick
from tests.conftest import make_settings
from tests.fakes import BTC, ReadOnlyFake

FEATURE = "watchdog"


class ProtectableFake(ReadOnlyFake):
    """A live-like account whose protection and close calls are recorded; protection can be refused."""

    def __init__(self, account: str = "live"):
        super().__init__(account)
        self.refuse: Exception | None = None
        self.protect_calls: list[dict] = []
        self.closed: list[tuple[str, PositionSide]] = []

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        self.protect_calls.append({"symbol": symbol, "side": side, "stop": stop_loss, "target": take_profit,
                                   "client_id": client_id})
        if self.refuse is not None:
            raise self.refuse
        order = Order(f"p{len(self.protect_calls)}", symbol, side.close_order_side, OrderType.STOP_MARKET,
                      OrderStatus.NEW, None, trigger_price=stop_loss, close_position=True, client_id=client_id)
        self.orders.append(order)
        return [order]

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        self.closed.append((symbol, side))
        self.positions = [p for p in self.positions if not (p.symbol == symbol and p.side is side)]
        return Order("c1", symbol, side.close_order_side, OrderType.MARKET, OrderStatus.FILLED, Decimal("0.01"),
                     reduce_only=True, client_id=client_id)


def btc_long(entry: str, mark: str) -> Position:
    return Position(BTC, PositionSide.LONG, Decimal("0.01"), Decimal(entry), Decimal(mark), Decimal(5),
                    MarginMode.ISOLATED, None, Decimal(0))


@pytest.fixture
def make_rt(tmp_path, clock):
    """Build a runtime on the real factory (paper account unless adapters are given)."""
    apps = []

    def make(adapters=None, limits: RiskLimits | None = None, watch: WatchdogSettings | None = None):
        extra = {"clock": clock} | ({"adapters": adapters} if adapters else {})
        changes = {"risk_limits": limits or RiskLimits()}
        if watch is not None:
            changes["feature_settings"] = {FEATURE: watch}
        app = create_app(make_settings(tmp_path / f"app{len(apps)}", extra=extra, **changes))
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app.extensions["riskmgr"]

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def events():
    return []


def cycle(rt, clock, events=None):
    """Run one poll cycle with the watchdog as its only hook, then let 5 s pass."""
    if events is not None and not getattr(rt, "_subscribed", False):
        rt.events.subscribe(lambda e: events.append(e) if e.kind.startswith("protection.") else None)
        rt._subscribed = True
    snaps = poll_cycle(rt, [poll_hook])
    clock.advance(5)
    return snaps


def audit_kinds(rt) -> list[str]:
    return [e["kind"] for e in reversed(rt.audit.query(kind="watchdog"))]


# -- paper ------------------------------------------------------------------------------------------------
@pytest.fixture
def paper_rt(make_rt):
    return make_rt()


def hand_of(rt, clock) -> PaperExchange:
    """The paper account reached directly, as a trader acting outside riskmgr would."""
    s = rt.settings
    return PaperExchange("paper", rt.engine, rt.market, clock, start_balance=s.paper_start_balance,
                         taker_fee=s.paper_taker_fee, maker_fee=s.paper_maker_fee, slippage_bps=s.paper_slippage_bps)


@pytest.fixture
def hand(paper_rt, clock):
    return hand_of(paper_rt, clock)


def stops(adapter) -> list[Order]:
    return [o for o in adapter.fetch_open_orders() if o.is_stop_loss]


def test_hand_opened_paper_position_gets_a_stop_at_the_default_distance_from_entry(paper_rt, hand, clock, events):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    [position] = hand.fetch_positions()
    tick = paper_rt.market.specs()[BTC].price_tick

    cycle(paper_rt, clock, events)

    [stop] = stops(hand)
    assert stop.trigger_price == round_to_tick(position.entry_price * Decimal("0.985"), tick, up=True)
    assert stop.close_position and stop.side is OrderSide.SELL and stop.client_id.startswith("rm")
    assert [e.kind for e in events] == ["protection.missing", "protection.restored"]
    assert audit_kinds(paper_rt) == ["watchdog.missing", "watchdog.placed"]


def test_next_cycle_sees_the_stop_and_sends_nothing_more(paper_rt, hand, clock):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))

    cycle(paper_rt, clock)
    cycle(paper_rt, clock)
    cycle(paper_rt, clock)

    assert len(stops(hand)) == 1
    dog = watchdog(paper_rt)
    assert dog.unprotected() == []
    assert dog.counts() == {"detected": 1, "placed": 1, "restored": 1, "failed": 0, "escalated": 0,
                            "wrong_side": 0, "deferred": 0}


def test_the_same_read_checked_twice_sends_the_stop_once(paper_rt, hand):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    snaps = poll_cycle(paper_rt, [])

    watchdog(paper_rt).check(snaps)
    watchdog(paper_rt).check(snaps)

    assert len(stops(hand)) == 1
    assert watchdog(paper_rt).counts()["placed"] == 1


def test_two_cycles_racing_on_one_read_send_the_stop_once(paper_rt, hand):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    snaps = poll_cycle(paper_rt, [])
    start = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            watchdog(paper_rt).check(snaps)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(stops(hand)) == 1


def test_a_stop_pulled_off_the_exchange_is_back_after_one_cycle(paper_rt, hand, clock):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    cycle(paper_rt, clock)
    cycle(paper_rt, clock)
    [first] = stops(hand)
    hand.cancel_order(BTC, first.id)

    cycle(paper_rt, clock)

    [again] = stops(hand)
    assert again.trigger_price == first.trigger_price and again.client_id != first.client_id
    assert watchdog(paper_rt).counts()["placed"] == 2


def test_the_plan_recorded_at_entry_wins_over_the_default_distance(paper_rt, hand, clock):
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    [position] = hand.fetch_positions()
    planned = round_to_tick(position.entry_price * Decimal("0.97"), Decimal("0.1"), up=True)
    paper_rt.gateway.protect("paper", BTC, PositionSide.LONG, stop_loss=planned, take_profit=None,
                             actor="operator", intent_id="entry-plan-1")
    hand.cancel_order(BTC, stops(hand)[0].id)
    clock.advance(5)

    cycle(paper_rt, clock)

    [stop] = stops(hand)
    assert stop.trigger_price == planned
    assert "plan of protection order" in paper_rt.audit.query(kind="watchdog.placed")[0]["message"]


def test_take_profit_is_placed_too_when_the_policy_wants_one(make_rt, clock):
    rt = make_rt(watch=WatchdogSettings(require_take_profit=True))
    hand = hand_of(rt, clock)
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    [position] = hand.fetch_positions()

    cycle(rt, clock)

    [target] = [o for o in hand.fetch_open_orders() if o.is_take_profit]
    distance = 1 + rt.limits().default_target_pct / 100  # the default target distance, whatever it is set to
    assert target.trigger_price == round_to_tick(position.entry_price * distance, Decimal("0.1"), up=False)
    assert len(stops(hand)) == 1


# -- refusals, escalation, guards (a live-like fake) -------------------------------------------------------
@pytest.fixture
def fake():
    account = ProtectableFake()
    account.positions = [btc_long("50000", "50100")]
    return account


def test_rejected_placement_is_retried_each_cycle_with_a_new_intent_and_alerted_once(make_rt, fake, clock, events):
    fake.refuse = InvalidOrderError("trigger price refused", code="43011")
    rt = make_rt({"live": fake})

    cycle(rt, clock, events)
    cycle(rt, clock, events)

    assert [c["stop"] for c in fake.protect_calls] == [Decimal("49250.0")] * 2
    assert fake.protect_calls[0]["client_id"] != fake.protect_calls[1]["client_id"]
    assert [e.kind for e in events] == ["protection.missing", "protection.failed"]
    [row] = watchdog(rt).unprotected()
    assert (row["failures"], row["attempts"], row["missing"]) == (2, 2, "stop-loss")
    assert "trigger price refused" in row["last_result"]


@pytest.mark.parametrize("policy", ["alert", "reducing", "close"])
def test_escalation_after_the_configured_failures_follows_the_policy(make_rt, fake, clock, policy):
    fake.refuse = InvalidOrderError("refused")
    rt = make_rt({"live": fake}, limits=RiskLimits(unprotected_policy=policy), watch=WatchdogSettings(escalate_after=2))

    cycle(rt, clock)
    assert rt.audit.query(kind="watchdog.escalated") == []
    cycle(rt, clock)
    cycle(rt, clock)

    assert len(rt.audit.query(kind="watchdog.escalated")) == 1
    expected_state = TradingState.REDUCING if policy == "reducing" else TradingState.ACTIVE
    assert rt.trading.current().state is expected_state
    assert fake.closed == ([(BTC, PositionSide.LONG)] if policy == "close" else [])
    assert watchdog(rt).counts()["escalated"] == 1


def test_a_stop_the_mark_already_crossed_is_escalated_not_placed(make_rt, clock, events):
    account = ProtectableFake()
    account.positions = [btc_long("50000", "49000")]  # the default stop 49250 lies above the mark
    rt = make_rt({"live": account}, limits=RiskLimits(unprotected_policy="close"))

    cycle(rt, clock, events)

    assert account.protect_calls == []
    assert account.closed == [(BTC, PositionSide.LONG)]
    assert [e.kind for e in events] == ["protection.missing", "protection.failed"]
    assert "already crossed by the mark 49000" in rt.audit.query(kind="watchdog.escalated")[0]["message"]
    assert watchdog(rt).counts()["wrong_side"] == 1


def test_short_positions_get_their_stop_above_the_entry(make_rt, clock):
    account = ProtectableFake()
    account.positions = [Position(BTC, PositionSide.SHORT, Decimal("0.01"), Decimal(50000), Decimal(49900),
                                  Decimal(5), MarginMode.CROSS, None, Decimal(1))]
    rt = make_rt({"live": account})

    cycle(rt, clock)

    [call] = account.protect_calls
    assert (call["side"], call["stop"]) == (PositionSide.SHORT, Decimal("50750.0"))


def test_an_order_sent_after_the_read_began_defers_the_check(make_rt, fake):
    rt = make_rt({"live": fake})
    snaps = poll_cycle(rt, [])
    rt.gateway.protect("live", BTC, PositionSide.LONG, stop_loss=Decimal(49000), take_profit=None,
                       actor="operator", intent_id="manual-stop")

    watchdog(rt).check(snaps)

    assert len(fake.protect_calls) == 1  # the operator's, not a second one from the watchdog
    assert watchdog(rt).counts()["deferred"] == 1


def test_a_failed_read_is_not_judged(make_rt, fake, clock):
    fake.fail_with = TemporaryError("timeout")
    rt = make_rt({"live": fake})

    [snap] = cycle(rt, clock)

    assert snap.status is AccountStatus.ERROR
    assert fake.protect_calls == [] and watchdog(rt).unprotected() == []


def test_a_position_closed_while_unprotected_leaves_the_list(make_rt, fake, clock):
    fake.refuse = InvalidOrderError("refused")
    rt = make_rt({"live": fake})
    cycle(rt, clock)
    assert len(watchdog(rt).unprotected()) == 1
    fake.positions = []

    cycle(rt, clock)

    assert watchdog(rt).unprotected() == []
    assert "closed while its stop-loss was missing" in rt.audit.query(kind="watchdog.cleared")[0]["message"]


def test_unprotected_positions_are_listed_with_how_long(make_rt, fake, clock):
    fake.refuse = InvalidOrderError("refused")
    rt = make_rt({"live": fake})
    cycle(rt, clock)
    clock.advance(60)

    [row] = watchdog(rt).unprotected()

    assert (row["account"], row["symbol"], row["side"], row["seconds"]) == ("live", BTC, "long", 65)


# -- mocked exchanges (documented reply shapes; also used by tests/app/test_secrets.py) ----------------------------
BX = "https://fapi.bitunix.com/api/v1/futures"
BX_KEY, BX_SECRET = "bx-test-key-0001", "bx-test-secret-0001"
BG_KEY, BG_SECRET, BG_PASSPHRASE = "bg-test-key-0001", "bg-test-secret-0001", "bg-test-pass-0001"
BN_KEY, BN_SECRET = "bn-test-key-0001", "bn-test-secret-0001"


def bitunix_adapter(clock, key: str = BX_KEY, secret: str = BX_SECRET):
    from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
    from riskmgr.exchanges.bitunix.client import BitunixClient

    return BitunixAdapter("bx", BitunixClient(key, secret, clock=clock, account="bx"), clock=clock)


def bitunix_routes(http, positions: dict | None = None) -> None:
    from tests.exchanges.bitunix.conftest import ok, reply

    http.get(f"{BX}/account", json=reply("account_object"))
    http.get(f"{BX}/position/get_pending_positions", json=positions or reply("positions_documented"))
    http.get(f"{BX}/market/tickers", json=reply("tickers"))
    http.get(f"{BX}/market/trading_pairs", json=reply("trading_pairs"))
    http.get(f"{BX}/trade/get_pending_orders", json=ok({"orderList": [], "total": 0}))
    http.get(f"{BX}/tpsl/get_pending_orders", json=ok([]))


def bitget_adapter(key: str = BG_KEY, secret: str = BG_SECRET, passphrase: str = BG_PASSPHRASE):
    from riskmgr.exchanges.ccxt.bitget import BitgetAdapter

    adapter = BitgetAdapter("bg", key, secret, passphrase)
    adapter.client.enableRateLimit = False  # no sleeping between mocked calls
    return adapter


def bitget_routes(http) -> None:
    from tests.exchanges.ccxt.helpers import BITGET, bitget, bitget_markets_routes, route

    mix = f"{BITGET}/api/v2/mix"
    held = bitget("all_position")
    held["data"] = [r for r in held["data"] if r["symbol"] == "BTCUSDT"]  # one long, 60000 -> mark 62000
    bitget_markets_routes(http)
    route(http, "GET", f"{mix}/account/accounts", bitget("accounts"))
    route(http, "GET", f"{mix}/position/all-position", held)
    route(http, "GET", f"{mix}/position/single-position", bitget("single_position_btc"))
    route(http, "GET", f"{mix}/order/orders-pending", bitget("orders_pending_empty"))
    route(http, "GET", f"{mix}/order/orders-plan-pending", bitget("plan_empty"))


def binance_adapter(key: str = BN_KEY, secret: str = BN_SECRET):
    from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter

    adapter = BinanceUsdmAdapter("bn", key, secret)
    adapter.client.enableRateLimit = False
    return adapter


def binance_routes(http, algo: list[dict], orders: list[dict] | None = None) -> None:
    from tests.exchanges.ccxt.helpers import BINANCE, binance, route

    held = [dict(binance("position_risk_btc")[0], markPrice="60500.00000000")]  # long from 60000
    route(http, "GET", f"{BINANCE}/fapi/v1/exchangeInfo", binance("exchange_info"))
    route(http, "GET", f"{BINANCE}/fapi/v1/leverageBracket", binance("leverage_bracket"))
    route(http, "GET", f"{BINANCE}/fapi/v3/account", binance("account"))
    route(http, "GET", f"{BINANCE}/fapi/v2/positionRisk", held)
    listed = orders if orders is not None else []
    http.add_callback("GET", f"{BINANCE}/fapi/v1/openOrders", callback=lambda _: (200, {}, json.dumps(listed)))
    http.add_callback("GET", f"{BINANCE}/fapi/v1/openAlgoOrders", callback=lambda _: (200, {}, json.dumps(algo)))


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_bitunix_missing_stop_is_placed_as_the_position_tpsl(make_rt, http, clock):
    from tests.exchanges.bitunix.conftest import ok, reply

    rows = reply("positions_documented")
    rows["data"][0]["avgOpenPrice"] = "58000"  # mark 57892.1 from the tickers: a default stop at 57130 is valid
    bitunix_routes(http, positions=rows)
    http.post(f"{BX}/tpsl/position/place_order", json=ok({"orderId": "555"}))
    rt = make_rt({"bx": bitunix_adapter(clock)})

    cycle(rt, clock)

    [call] = [c for c in http.calls if c.request.url.endswith("/tpsl/position/place_order")]
    assert json.loads(call.request.body) == {"symbol": "BTCUSDT", "positionId": "12345678", "slPrice": "57130",
                                             "slStopType": "MARK_PRICE"}


def test_bitunix_documented_position_below_its_default_stop_is_escalated(make_rt, http, clock):
    bitunix_routes(http)  # entry 60000, mark 57892.1: a stop at 59100 would fire at once
    rt = make_rt({"bx": bitunix_adapter(clock)})

    cycle(rt, clock)

    assert not [c for c in http.calls if "/tpsl/position/" in c.request.url]
    assert watchdog(rt).counts()["wrong_side"] == 1


def test_bitget_missing_stop_is_placed_as_pos_loss(make_rt, http, clock):
    from tests.exchanges.ccxt.helpers import BITGET, bitget

    bitget_routes(http)
    http.post(f"{BITGET}/api/v2/mix/order/place-tpsl-order", json=bitget("place_tpsl_sl"))
    rt = make_rt({"bg": bitget_adapter()})

    cycle(rt, clock)

    [call] = [c for c in http.calls if c.request.url.endswith("/place-tpsl-order")]
    body = json.loads(call.request.body)
    assert (body["planType"], Decimal(body["triggerPrice"]), body["holdSide"]) == ("pos_loss", Decimal(59100), "buy")
    assert body["clientOid"].startswith("rm") and body["clientOid"].endswith("-sl")


def test_binance_missing_stop_is_placed_as_a_close_position_algo_order_once(make_rt, http, clock):
    from tests.exchanges.ccxt.helpers import BINANCE, binance, form

    resting: list[dict] = []
    binance_routes(http, algo=resting)
    placed = dict(binance("algo_sl_new"), triggerPrice="59100.0")
    http.add("POST", f"{BINANCE}/fapi/v1/algoOrder", json=placed)
    rt = make_rt({"bn": binance_adapter()})

    cycle(rt, clock)
    resting.append(placed)  # the exchange now lists it
    cycle(rt, clock)

    calls = [c for c in http.calls if c.request.url.startswith(f"{BINANCE}/fapi/v1/algoOrder")]
    assert len(calls) == 1
    sent = form(calls[0].request)
    assert (sent["type"], sent["side"], sent["triggerPrice"], sent["closePosition"]) == (
        "STOP_MARKET", "SELL", "59100", "true")
    assert watchdog(rt).unprotected() == []


def test_cli_status_lists_the_counts(runtime, runner, clock):
    hand = hand_of(runtime, clock)
    hand.place_order(OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, Decimal("0.01")))
    cycle(runtime, clock)

    result = runner.invoke(args=["watchdog", "status"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == (
        "detected=1 placed=1 restored=0 failed=0 escalated=0 wrong_side=0 deferred=0")
