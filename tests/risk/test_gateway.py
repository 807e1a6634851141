"""The order gateway: trading state, idempotent client ids, rounding, audit, and the rules wired into it."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.domain import (
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Ticker,
    TradingState,
)
from riskmgr.core.errors import DuplicateClientIdError, InsufficientFundsError
from riskmgr.exchanges.reader import AccountReader
from riskmgr.persistence.models import OrderIntent
from riskmgr.risk.gateway import OrderGateway, client_id_for
from riskmgr.risk.rules import ALL_RULES
from tests.conftest import T0
from tests.fakes import BTC, ReadOnlyFake

D = Decimal
WRITE_METHODS = {
    "place_order", "place_position_protection", "cancel_order", "cancel_all_orders", "close_position", "set_leverage",
    "set_margin_mode",
}


class RecordingAdapter(ReadOnlyFake):
    """A fake venue that accepts writes and records them; ``fail_next`` makes the next write raise."""

    def __init__(self, account: str, equity: str = "10000", now=lambda: T0):  # type: ignore[no-untyped-def]
        super().__init__(account, equity)
        self.now = now
        self.sent: list[tuple[str, object]] = []
        self.fail_next: Exception | None = None
        self.closed: list = []

    def fetch_closed_trades(self, since):  # type: ignore[no-untyped-def]
        return list(self.closed)

    def fetch_tickers(self):  # type: ignore[no-untyped-def]
        return {BTC: Ticker(BTC, D(50000), D(50000), self.now())}

    def _record(self, what: str, payload: object) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.sent.append((what, payload))

    def place_order(self, request: OrderRequest) -> Order:
        self._record("place_order", request)
        return Order(f"o{len(self.sent)}", request.symbol, request.side, request.type, OrderStatus.FILLED, request.qty,
                     price=request.price, reduce_only=request.reduce_only, client_id=request.client_id,
                     filled_qty=request.qty, avg_fill_price=request.price or D(50000))

    def place_position_protection(self, symbol, side, *, stop_loss=None, take_profit=None, client_id=None):  # type: ignore[no-untyped-def]
        self._record("place_position_protection", (symbol, side, stop_loss, take_profit))
        return [Order(f"p{len(self.sent)}", symbol, side.close_order_side, OrderType.STOP_MARKET, OrderStatus.NEW, None,
                      trigger_price=stop_loss, close_position=True, client_id=client_id)]

    def cancel_all_orders(self, symbol=None, *, include_protective=True):  # type: ignore[no-untyped-def]
        self._record("cancel_all_orders", symbol)
        return ["x1", "x2"]

    def close_position(self, symbol, side, client_id=None):  # type: ignore[no-untyped-def]
        self._record("close_position", (symbol, side))
        return Order(f"c{len(self.sent)}", symbol, side.close_order_side, OrderType.MARKET, OrderStatus.FILLED,
                     D("0.01"), reduce_only=True, client_id=client_id)


@pytest.fixture
def venue() -> RecordingAdapter:
    return RecordingAdapter("acct")


@pytest.fixture
def gateway(rt) -> OrderGateway:
    """The app's own gateway, every rule wired, on the recording venue after one good poll."""
    poll_cycle(rt)
    return rt.gateway


def buy(qty: str = "0.01", **extra) -> OrderRequest:
    """A limit buy every rule allows: 0.01 BTC at 50000, 3x, stop 49000 (0.1 % of equity), target 53000 (3:1)."""
    fields = {"price": D(50000), "leverage": 3, "stop_loss": D(49000), "take_profit": D(53000)}
    fields.update(extra)
    return OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D(qty), **fields)


def audit_kinds(rt) -> list[str]:
    return [e["kind"] for e in reversed(rt.audit.query())]


# -- trading state -----------------------------------------------------------------------------------------------
def test_submit_when_active_sends_the_order_with_the_intents_client_id(gateway, venue):
    result = gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    assert result.accepted and result.client_id == client_id_for("acct", "i-1")
    assert [(what, req.client_id) for what, req in venue.sent] == [("place_order", client_id_for("acct", "i-1"))]


@pytest.mark.parametrize(("state", "word"), [(TradingState.HALTED, "HALTED"), (TradingState.REDUCING, "REDUCING")])
def test_submit_new_entry_when_not_active_then_denied_and_nothing_reaches_the_venue(gateway, rt, venue, state, word):
    rt.trading.escalate(state, "test", "t")

    result = gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    assert not result.accepted and venue.sent == []
    assert [(v.rule, v.allowed) for v in result.verdicts] == [("trading_state", False)]
    assert f"trading is {word}" in result.message


def test_halted_refuses_a_new_entry_even_through_the_apps_own_wired_gateway(rt, venue):
    rt.trading.escalate(TradingState.HALTED, "test", "t")

    result = rt.gateway.submit("acct", buy(leverage=2, stop_loss=D(49000)), actor="t", intent_id="i-1")

    assert not result.accepted and venue.sent == []
    assert result.denials[0].rule == "trading_state"


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_reduce_only_order_passes_in_every_state(gateway, rt, venue, state):
    rt.trading.escalate(state, "test", "t")

    result = gateway.submit("acct", buy(reduce_only=True), actor="t", intent_id="i-1")

    assert result.accepted and [what for what, _ in venue.sent] == ["place_order"]


def test_close_protect_and_cancel_pass_when_halted(gateway, rt, venue):
    rt.trading.escalate(TradingState.HALTED, "test", "t")

    closed = gateway.close_position("acct", BTC, PositionSide.LONG, actor="t", intent_id="c-1")
    protected = gateway.protect("acct", BTC, PositionSide.LONG, stop_loss=D(49000), take_profit=None, actor="t",
                                intent_id="p-1")
    cancelled = gateway.cancel_all("acct", actor="t")

    assert closed.accepted and protected.accepted and cancelled == ["x1", "x2"]
    assert [what for what, _ in venue.sent] == ["close_position", "place_position_protection", "cancel_all_orders"]


# -- idempotency -------------------------------------------------------------------------------------------------
def test_same_intent_twice_reaches_the_exchange_once(gateway, venue):
    first = gateway.submit("acct", buy(), actor="t", intent_id="i-1")
    second = gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    assert len(venue.sent) == 1
    assert (first.accepted, first.duplicate) == (True, False)
    assert (second.accepted, second.duplicate, second.client_id) == (True, True, first.client_id)


def test_duplicate_client_id_from_the_venue_is_treated_as_already_placed(gateway, rt, venue):
    venue.fail_next = DuplicateClientIdError("clientId exists", account="acct", operation="place_order")

    result = gateway.submit("acct", buy(), actor="t", intent_id="i-1")
    retry = gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    assert (result.accepted, result.duplicate, result.message) == (True, True, "already placed")
    assert (retry.accepted, retry.duplicate) == (True, True) and venue.sent == []
    with Session(rt.engine) as session:
        assert session.get(OrderIntent, result.client_id).status == "accepted"


def test_different_intents_get_different_client_ids_and_both_are_sent(gateway, venue):
    gateway.submit("acct", buy(), actor="t", intent_id="i-1")
    gateway.submit("acct", buy(), actor="t", intent_id="i-2")

    assert len({req.client_id for _, req in venue.sent}) == 2


# -- rounding ----------------------------------------------------------------------------------------------------
def test_buy_rounds_qty_down_price_down_stop_up_and_target_down(gateway, venue):
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.0129"), price=D("50000.07"),
                           stop_loss=D("49000.01"), take_profit=D("52500.09"), leverage=3)

    gateway.submit("acct", request, actor="t", intent_id="i-1")

    sent = venue.sent[0][1]
    assert (sent.qty, sent.price, sent.stop_loss, sent.take_profit) == (D("0.012"), D("50000.0"), D("49000.1"),
                                                                         D("52500.0"))


def test_sell_rounds_qty_down_price_up_stop_down_and_target_up(gateway, venue):
    request = OrderRequest(BTC, OrderSide.SELL, OrderType.LIMIT, D("0.0129"), price=D("50000.01"),
                           stop_loss=D("51000.09"), take_profit=D("47500.01"), leverage=3)

    gateway.submit("acct", request, actor="t", intent_id="i-1")

    sent = venue.sent[0][1]
    assert (sent.qty, sent.price, sent.stop_loss, sent.take_profit) == (D("0.012"), D("50000.1"), D("51000.0"),
                                                                         D("47500.1"))


# -- audit -------------------------------------------------------------------------------------------------------
def test_sent_order_is_audited_with_its_request_and_result(gateway, rt):
    result = gateway.submit("acct", buy(), actor="alice", intent_id="i-1")

    [event] = rt.audit.query(kind="order.sent")
    assert (event["actor"], event["account"]) == ("alice", "acct")
    assert event["data"]["order_id"] == result.order.id and event["data"]["status"] == "filled"
    assert event["data"]["request"] == {
        "symbol": BTC, "side": "buy", "type": "limit", "qty": "0.01", "price": "50000", "reduce_only": False,
        "client_id": result.client_id, "leverage": 3, "stop_loss": "49000", "take_profit": "53000",
    }


def test_rejected_order_is_audited_with_the_venues_error(gateway, rt, venue):
    venue.fail_next = InsufficientFundsError("margin is insufficient", account="acct", operation="place_order")

    result = gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    assert not result.accepted and result.message == "place_order: margin is insufficient"
    [event] = rt.audit.query(kind="order.rejected")
    assert event["data"]["error"] == "place_order: margin is insufficient"


def test_denied_order_is_audited_with_every_verdict(gateway, rt):
    rt.trading.escalate(TradingState.HALTED, "test", "t")

    gateway.submit("acct", buy(), actor="t", intent_id="i-1")

    [event] = rt.audit.query(kind="order.denied")
    assert [v["rule"] for v in event["data"]["verdicts"]] == ["trading_state"]
    assert event["data"]["request"]["qty"] == "0.01"


def test_market_entry_gets_its_stop_after_the_fill(gateway, venue):
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.01"), stop_loss=D(49000), take_profit=D(53000),
                           leverage=3)

    result = gateway.submit("acct", request, actor="t", intent_id="i-1")

    assert result.accepted and result.protection is not None and result.protection.accepted, result.message
    assert venue.sent[0][1].stop_loss is None  # the entry goes out bare; its protection follows
    assert venue.sent[1] == ("place_position_protection", (BTC, PositionSide.LONG, D(49000), D(53000)))


def test_market_entry_whose_stop_fails_is_closed_at_once(gateway, rt, venue):
    request = OrderRequest(BTC, OrderSide.BUY, OrderType.MARKET, D("0.01"), stop_loss=D(49000), take_profit=D(53000),
                           leverage=3)
    original = venue.place_position_protection

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        venue.fail_next = InsufficientFundsError("no", account="acct", operation="place_position_protection")
        return original(*args, **kwargs)

    venue.place_position_protection = failing  # type: ignore[method-assign]
    result = gateway.submit("acct", request, actor="t", intent_id="i-1")

    assert not result.protection.accepted and result.unwind is not None and result.unwind.accepted
    assert [what for what, _ in venue.sent] == ["place_order", "close_position"]


# -- the rules wired into the app's gateway ----------------------------------------------------------------------
def entry(**extra) -> OrderRequest:
    fields = {"price": D(50000), "leverage": 3, "stop_loss": D(49000), "take_profit": D(52000)}
    fields.update(extra)
    return OrderRequest(BTC, OrderSide.BUY, OrderType.LIMIT, D("0.01"), **fields)


def test_wired_gateway_sends_an_entry_every_rule_allows(rt, venue):
    poll_cycle(rt)

    result = rt.gateway.submit("acct", entry(), actor="t", intent_id="i-1")

    assert result.accepted, result.message
    assert [v.rule for v in result.verdicts][:3] == ["trading_state", "data_fresh", "stop_required"]
    assert len(result.verdicts) == 1 + len(ALL_RULES) and all(v.allowed for v in result.verdicts)


def test_wired_gateway_denies_leverage_above_the_limit(rt, venue):
    poll_cycle(rt)

    result = rt.gateway.submit("acct", entry(leverage=10), actor="t", intent_id="i-1")

    assert not result.accepted and venue.sent == []
    assert [(v.rule, v.reason) for v in result.denials] == [("max_leverage", "leverage 10x is above the limit 5x")]


def test_wired_gateway_denies_an_entry_without_a_stop(rt, venue):
    poll_cycle(rt)

    result = rt.gateway.submit("acct", entry(stop_loss=None), actor="t", intent_id="i-1")

    assert not result.accepted and venue.sent == []
    assert "stop_required" in {v.rule for v in result.denials}
    assert "an entry needs a stop-loss; none was given" in {v.reason for v in result.denials}


def test_wired_gateway_denies_when_the_account_was_never_read(rt, venue):
    result = rt.gateway.submit("acct", entry(), actor="t", intent_id="i-1")

    assert not result.accepted and venue.sent == []
    assert result.denials[0].rule == "data_fresh" and result.denials[0].reason == "the account has never been read"


@pytest.fixture
def paper_api(api, runtime):
    poll_cycle(runtime)
    return api


def order_body(**changes):
    # the simulated BTC mark at T0 is 32019.1: a limit buy at 30000 rests on the book
    body = {"account": "paper", "symbol": BTC, "type": "limit", "side": "buy", "price": "30000", "qty": "0.01",
            "stop_loss": "29000", "take_profit": "32000", "leverage": "3"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_api_answers_409_naming_max_leverage_when_it_denies(paper_api, runtime):
    response = paper_api.post("/api/orders", json=order_body(leverage="10"))

    assert response.status_code == 409
    denials = [v for v in response.get_json()["entry"]["verdicts"] if not v["allowed"]]
    assert denials == [{"allowed": False, "rule": "max_leverage", "label": "Maximum leverage",
                        "reason": "leverage 10x is above the limit 5x"}]
    assert runtime.accounts["paper"].fetch_open_orders() == []


def test_api_answers_409_naming_stop_required_for_an_entry_without_a_stop(paper_api):
    response = paper_api.post("/api/orders", json=order_body(stop_loss=None, take_profit=None))

    assert response.status_code == 409
    rules = {v["rule"] for v in response.get_json()["entry"]["verdicts"] if not v["allowed"]}
    assert {"stop_required", "reward_risk", "liquidation_beyond_stop"} <= rules


def test_api_places_an_allowed_entry_with_201(paper_api, runtime):
    response = paper_api.post("/api/orders", json=order_body())

    assert response.status_code == 201, response.get_json()
    [order] = runtime.accounts["paper"].fetch_open_orders()
    assert (order.qty, order.price, order.side, order.status) == (D("0.01"), D(30000), OrderSide.BUY, OrderStatus.NEW)


# -- nothing reaches an adapter except through the gateway -------------------------------------------------------
def test_account_reader_has_no_write_method():
    public = {name for name in dir(AccountReader) if not name.startswith("_")}

    assert public & WRITE_METHODS == set()
    assert {n for n in public if callable(getattr(AccountReader, n))} <= {
        "fetch_balance", "fetch_positions", "fetch_open_orders", "fetch_markets", "fetch_tickers", "fetch_candles",
        "fetch_closed_trades", "sync", "taker_fee_rate", "slippage_rate",
    }


def _write_calls_outside_the_gateway(path: Path) -> list[str]:
    """Return each call of an adapter write method whose receiver is not the gateway."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS:
            receiver = ast.unparse(node.func.value)
            if "gateway" not in receiver.lower():
                found.append(f"{path}:{node.lineno}: {receiver}.{node.func.attr}(...)")
    return found


def test_no_module_but_the_gateway_and_the_adapters_calls_an_adapter_write_method():
    package = Path(__file__).resolve().parents[2] / "riskmgr"
    allowed = {package / "risk" / "gateway.py"}
    modules = [p for p in package.rglob("*.py") if p not in allowed and (package / "exchanges") not in p.parents]

    offenders = [hit for path in modules for hit in _write_calls_outside_the_gateway(path)]

    assert len(modules) > 30  # the scan really covers the package
    assert offenders == []


def test_the_scan_would_catch_a_direct_adapter_call(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f(adapter, gateway):\n    gateway.close_position(1)\n    adapter.place_order(2)\n")

    assert [hit.split(": ", 1)[1] for hit in _write_calls_outside_the_gateway(sneaky)] == ["adapter.place_order(...)"]


def test_gateway_module_is_the_only_holder_of_the_adapters_in_the_runtime(rt):
    held = [name for name, value in vars(rt).items() if isinstance(value, dict) and any(
        not isinstance(v, AccountReader) and hasattr(v, "place_order") for v in value.values()
    )]

    assert held == []



# -- audit wording -----------------------------------------------------------------------------------------------
def test_a_whole_position_close_is_audited_with_the_size_closed_not_size_0(gateway, rt):
    closed = gateway.close_position("acct", BTC, PositionSide.LONG, actor="t", intent_id="c-words")

    [event] = rt.audit.query(kind="order.sent", limit=1)
    assert closed.accepted
    assert event["message"].startswith("close 0.01 BTC (whole position) on BTC/USDT:USDT: sell at market, reduce-only")
    assert " 0 BTC" not in event["message"]


def test_a_denial_in_the_audit_log_names_the_rule_in_words(gateway, rt):
    gateway.submit("acct", buy(leverage=100), actor="t", intent_id="d-words")

    [event] = rt.audit.query(kind="order.denied", limit=1)
    assert "Maximum leverage: " in event["message"] and "max_leverage" not in event["message"]
    assert event["data"]["verdicts"][0]["label"]
