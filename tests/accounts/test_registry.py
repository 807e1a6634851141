"""Accounts from the environment, building their adapters and the capability self-test (the Accounts page and its
API are in tests/web/test_accounts.py, ``flask exchanges selftest`` in tests/app/cli/test_exchanges.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses

from riskmgr.accounts.registry import AccountConfig, build_adapters, parse_accounts, run_selftest, smallest_qty
from riskmgr.app.config import Settings
from riskmgr.core.domain import Order, OrderStatus, Ticker, TradingState
from riskmgr.core.errors import ConfigError, NotFoundError
from riskmgr.core.secrets import mask
from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
from riskmgr.exchanges.ccxt.binance import BinanceUsdmAdapter
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from riskmgr.exchanges.paper.exchange import PaperExchange
from tests.conftest import T0
from tests.fakes import BTC, ReadOnlyFake

KEY, SECRET, PASS = "k3y-planted-7b1e0c", "s3cret-planted-a9f2d4", "pa55-planted-33c1"
BASE_ENV = {
    "ACCOUNTS": "main,hedge,demo-bn",
    "ACCOUNT_MAIN_EXCHANGE": "bitunix", "ACCOUNT_MAIN_API_KEY": KEY, "ACCOUNT_MAIN_API_SECRET": SECRET,
    "ACCOUNT_HEDGE_EXCHANGE": "bitget", "ACCOUNT_HEDGE_API_KEY": KEY + "2", "ACCOUNT_HEDGE_API_SECRET": SECRET + "2",
    "ACCOUNT_HEDGE_PASSPHRASE": PASS, "ACCOUNT_HEDGE_DEMO": "true",
    "ACCOUNT_DEMO_BN_EXCHANGE": "binanceusdm", "ACCOUNT_DEMO_BN_API_KEY": KEY + "3",
    "ACCOUNT_DEMO_BN_API_SECRET": SECRET + "3", "ACCOUNT_DEMO_BN_BASE_URL": "https://demo-fapi.binance.com/",
}


# -- parsing ----------------------------------------------------------------------------------------------
def test_accounts_are_read_with_their_exchange_mode_and_masked_secrets():
    main, hedge, demo = parse_accounts(BASE_ENV)

    assert (main.name, main.exchange, main.mode, main.base_url) == ("main", "bitunix", "live", None)
    assert (hedge.exchange, hedge.mode, hedge.passphrase.reveal()) == ("bitget", "demo", PASS)
    assert (demo.name, demo.exchange, demo.base_url) == ("demo-bn", "binanceusdm", "https://demo-fapi.binance.com")
    for config in (main, hedge, demo):
        shown = repr(config) + str(config)
        assert KEY not in shown and SECRET not in shown and PASS not in shown
        assert "Secret('***')" in shown


def test_no_accounts_declared_means_none():
    assert parse_accounts({}) == ()


def test_secrets_read_from_the_environment_are_masked_in_logs():
    parse_accounts(BASE_ENV)

    assert mask(f"key={KEY} secret={SECRET} pass={PASS}") == "key=*** secret=*** pass=***"


def _without(*keys: str, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in BASE_ENV.items() if k not in keys}
    env.update(changes)
    return env


@pytest.mark.parametrize(("env", "message"), [
    (_without("ACCOUNT_MAIN_EXCHANGE"), "ACCOUNT_MAIN_EXCHANGE is required"),
    (_without(ACCOUNT_MAIN_EXCHANGE="kraken"), "ACCOUNT_MAIN_EXCHANGE='kraken' is not allowed; choose one of bitunix"),
    (_without("ACCOUNT_MAIN_API_KEY"), "ACCOUNT_MAIN_API_KEY is required"),
    (_without("ACCOUNT_MAIN_API_SECRET"), "ACCOUNT_MAIN_API_SECRET is required"),
    (_without("ACCOUNT_HEDGE_PASSPHRASE"), "ACCOUNT_HEDGE_PASSPHRASE is required"),
    (_without(ACCOUNT_MAIN_PASSPHRASE=PASS), "ACCOUNT_MAIN_PASSPHRASE is set, but only Bitget"),
    (_without(ACCOUNT_MAIN_DEMO="true"), "ACCOUNT_MAIN_DEMO=true: bitunix has no demo trading"),
    (_without(ACCOUNT_HEDGE_DEMO="maybe"), "ACCOUNT_HEDGE_DEMO='maybe' is not a boolean"),
    (_without(ACCOUNT_MAIN_API_KEY=KEY + " extra"), "ACCOUNT_MAIN_API_KEY contains whitespace"),
    (_without(ACCOUNT_MAIN_BASE_URL="http://fapi.example.com"), "ACCOUNT_MAIN_BASE_URL='http://fapi.example.com' must"),
    (_without(ACCOUNT_MAIN_BASE_URL=f"https://u:{SECRET}@x.com"), "ACCOUNT_MAIN_BASE_URL must not carry credentials"),
    (_without(ACCOUNT_MAIN_BASE_URL="https://x.com/?a=1"), "ACCOUNT_MAIN_BASE_URL='https://x.com/?a=1' must not have"),
    (_without(ACCOUNT_HEGDE_API_KEY=KEY), "ACCOUNT_HEGDE_API_KEY is not read: ACCOUNTS declares main, hedge, demo-bn"),
    ({"ACCOUNT_MAIN_API_KEY": KEY}, "ACCOUNT_MAIN_API_KEY is not read: ACCOUNTS declares none"),
    (_without(ACCOUNTS="main,hedge,demo-bn,Paper"), "ACCOUNTS and PAPER_ACCOUNTS both name the account 'Paper'"),
    (_without(ACCOUNTS="a-b,a_b"), "ACCOUNTS names 'a-b' and 'a_b', which both read ACCOUNT_A_B_* variables"),
    (_without(ACCOUNTS="main,main"), "ACCOUNTS='main,main' names an account twice"),
])
def test_a_bad_account_setting_names_the_variable_and_never_the_secret(env, message):
    with pytest.raises(ConfigError) as caught:
        parse_accounts(env)

    text = str(caught.value)
    assert message in text
    assert KEY not in text and SECRET not in text and PASS not in text


def test_settings_from_the_environment_carry_the_live_accounts():
    settings = Settings.from_env(BASE_ENV)

    assert [a.name for a in settings.live_accounts] == ["main", "hedge", "demo-bn"]
    assert KEY not in repr(settings) and SECRET not in repr(settings)


# -- building adapters ------------------------------------------------------------------------------------
def test_adapters_are_built_paper_first_then_live_without_a_network_call(tmp_path, clock):
    settings = Settings(live_accounts=parse_accounts(BASE_ENV), fetch_timeout_seconds=7)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        adapters = build_adapters(settings, engine=None, market=None, clock=clock)

    assert len(http.calls) == 0
    assert list(adapters) == ["paper", "main", "hedge", "demo-bn"]
    assert isinstance(adapters["paper"], PaperExchange)
    assert isinstance(adapters["main"], BitunixAdapter) and adapters["main"].mode == "live"
    assert isinstance(adapters["hedge"], BitgetAdapter) and adapters["hedge"].mode == "demo"
    assert isinstance(adapters["demo-bn"], BinanceUsdmAdapter)
    assert adapters["hedge"].client.timeout == 7000
    assert all(KEY not in repr(a) for a in adapters.values())


def test_a_base_url_sends_the_account_to_that_host(clock):
    env = {"ACCOUNTS": "local", "ACCOUNT_LOCAL_EXCHANGE": "bitunix", "ACCOUNT_LOCAL_API_KEY": KEY,
           "ACCOUNT_LOCAL_API_SECRET": SECRET, "ACCOUNT_LOCAL_BASE_URL": "http://localhost:8999"}
    settings = Settings(paper_accounts=(), live_accounts=parse_accounts(env))
    adapter = build_adapters(settings, engine=None, market=None, clock=clock)["local"]
    body = {"code": 0, "msg": "Success", "data": {"marginCoin": "USDT", "available": "100", "frozen": "0",
                                                  "margin": "0", "crossUnrealizedPNL": "0",
                                                  "isolationUnrealizedPNL": "0", "positionMode": "ONE_WAY"}}
    with responses.RequestsMock() as http:
        http.get("http://localhost:8999/api/v1/futures/account", json=body)
        balance = adapter.fetch_balance()

    assert balance.available == Decimal(100)


# -- the self-test ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("min_qty", "step", "notional", "price", "expected"), [
    ("0.001", "0.001", "5", "55000", "0.001"),  # the minimum quantity already exceeds 5 USDT
    ("0.0001", "0.0001", "5", "55576.4", "0.0001"),
    ("1", "1", "5", "0.1", "50"),  # the minimum notional needs more than the minimum quantity
    ("0.01", "0.01", "5", "3000", "0.01"),
    ("0.005", "0.01", "5", "3000", "0.01"),  # a minimum off the step is rounded up onto it
])
def test_smallest_quantity_meets_minimum_quantity_and_notional_on_the_step(min_qty, step, notional, price, expected):
    assert smallest_qty(Decimal(min_qty), Decimal(step), Decimal(notional), Decimal(price)) == Decimal(expected)


STEPS = ["account read", "contract spec", "market price", "place order", "read back", "cancel", "confirm cancelled"]


def test_selftest_on_paper_places_reads_back_and_cancels_with_every_rule_on(runtime, clock):
    mark = runtime.market.ticker(BTC).mark

    report = run_selftest(runtime, "paper", actor="tester", symbol=BTC, distance_pct=Decimal(4))

    assert report.ok, report.as_dict()
    assert [s.name for s in report.steps] == STEPS
    assert report.steps[0].detail == "polled now: status ok"  # a fresh app: the rules need a read first
    assert report.left_behind == []
    price = (mark * Decimal("0.96") / Decimal("0.1")).to_integral_value(rounding="ROUND_FLOOR") * Decimal("0.1")
    assert f"limit {price} (4 % below the mark {mark}) at 5x" in report.steps[3].detail
    assert runtime.accounts["paper"].fetch_open_orders() == []
    [audit] = runtime.audit.query(kind="selftest")
    assert (audit["kind"], audit["actor"], audit["data"]["ok"]) == ("selftest.passed", "tester", True)


def test_selftest_when_halted_stops_at_the_gate_and_leaves_nothing(runtime):
    runtime.trading.escalate(TradingState.HALTED, "test", "tester")

    report = run_selftest(runtime, "paper", actor="tester", symbol=BTC, distance_pct=Decimal(4))

    assert not report.ok
    assert [(s.name, s.ok) for s in report.steps][-1] == ("place order", False)
    assert "Trading state: trading is HALTED" in report.steps[-1].detail
    assert report.left_behind == []
    assert runtime.audit.query(kind="selftest")[0]["kind"] == "selftest.failed"


class StuckOrders(ReadOnlyFake):
    """Accepts limit orders, lists them, and refuses to cancel them."""

    def fetch_tickers(self):  # type: ignore[no-untyped-def]
        return {BTC: Ticker(BTC, Decimal(50000), Decimal(50000), T0)}

    def place_order(self, request):  # type: ignore[no-untyped-def]
        order = Order("s1", request.symbol, request.side, request.type, OrderStatus.NEW, request.qty, request.price,
                      client_id=request.client_id)
        self.orders.append(order)
        return order

    def cancel_order(self, symbol, order_id):  # type: ignore[no-untyped-def]
        raise NotFoundError("cancel refused by the venue", operation="cancel_order")

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        return []  # no losing streak: the consecutive-losses rule reads this


def test_selftest_names_what_it_could_not_cancel(tmp_path, clock):
    from riskmgr import create_app
    from riskmgr.persistence.extensions import db
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": {"stuck": StuckOrders("stuck")}}))
    with app.app_context():
        db.create_all()
    runtime = app.extensions["riskmgr"]

    report = run_selftest(runtime, "stuck", actor="tester", symbol=BTC, distance_pct=Decimal(4))

    assert [(s.name, s.ok) for s in report.steps][-1] == ("cancel", False)
    assert report.left_behind == ["order s1 on BTC/USDT:USDT is still open: cancel it by hand"]
    assert not report.ok


def test_selftest_against_mocked_bitunix(tmp_path, clock):
    from riskmgr import create_app
    from riskmgr.persistence.extensions import db
    from tests.accounts.test_watchdog import BX, bitunix_adapter
    from tests.conftest import make_settings
    from tests.exchanges.bitunix.conftest import ok, reply
    from tests.exchanges.bitunix.test_tiers import BTC_TIERS

    app = create_app(make_settings(tmp_path, extra={"clock": clock, "adapters": {"bx": bitunix_adapter(clock)}}))
    with app.app_context():
        db.create_all()
    runtime = app.extensions["riskmgr"]
    resting = {"orderId": "777", "symbol": "BTCUSDT", "qty": "0.0001", "tradeQty": "0", "price": "55576.4",
               "side": "BUY", "orderType": "LIMIT", "clientId": "x", "reduceOnly": False, "status": "NEW",
               "ctime": 1700000000000, "mtime": 1700000000000}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.get(f"{BX}/market/trading_pairs", json=reply("trading_pairs"))
        http.get(f"{BX}/market/tickers", json=reply("tickers"))
        http.get(f"{BX}/account", json=reply("account_object"))
        # what the rules read: no position, no closed trade (no losing streak), BTC's maintenance tiers
        http.get(f"{BX}/position/get_pending_positions", json=ok([]))
        http.get(f"{BX}/position/get_history_positions", json=ok({"positionList": [], "total": 0}))
        http.get(f"{BX}/position/get_position_tiers", json=BTC_TIERS)
        http.post(f"{BX}/account/change_leverage", json=ok({"symbol": "BTCUSDT", "leverage": 5}))
        venue = {"open": []}  # the venue lists the order from its placement to its cancel

        def place(request):  # type: ignore[no-untyped-def]
            venue["open"] = [resting]
            return 200, {}, json.dumps(ok({"orderId": "777", "clientId": "x"}))

        def cancel(request):  # type: ignore[no-untyped-def]
            venue["open"] = []
            return 200, {}, json.dumps(ok({"successList": [{"orderId": "777"}], "failureList": []}))

        def pending(request):  # type: ignore[no-untyped-def]
            return 200, {}, json.dumps(ok({"orderList": venue["open"], "total": len(venue["open"])}))

        http.add_callback(responses.POST, f"{BX}/trade/place_order", callback=place)
        http.add_callback(responses.POST, f"{BX}/trade/cancel_orders", callback=cancel)
        http.add_callback(responses.GET, f"{BX}/trade/get_pending_orders", callback=pending)
        http.get(f"{BX}/tpsl/get_pending_orders", json=ok([]))

        report = run_selftest(runtime, "bx", actor="tester", symbol=BTC, distance_pct=Decimal(4))

        sent = json.loads(next(c for c in http.calls if c.request.url.endswith("/place_order")).request.body)
        cancelled = json.loads(next(c for c in http.calls if c.request.url.endswith("/cancel_orders")).request.body)
        levered = json.loads(next(c for c in http.calls if c.request.url.endswith("/change_leverage")).request.body)

    assert report.ok, report.as_dict()
    assert {k: sent[k] for k in ("symbol", "side", "orderType", "qty", "price", "effect")} == {
        "symbol": "BTCUSDT", "side": "BUY", "orderType": "LIMIT", "qty": "0.0001", "price": "55576.4", "effect": "GTC"}
    assert sent["clientId"].startswith("rm") and "slPrice" in sent and "tpPrice" in sent
    assert cancelled == {"symbol": "BTCUSDT", "orderList": [{"orderId": "777"}]}
    assert levered["leverage"] == 5  # the limits' max leverage, below the exchange's


def test_config_repr_never_shows_a_secret():
    config = parse_accounts(BASE_ENV)[1]

    assert isinstance(config, AccountConfig)
    assert PASS not in repr(config.passphrase) and PASS not in f"{config}"
