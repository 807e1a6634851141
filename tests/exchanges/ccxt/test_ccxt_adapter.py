from __future__ import annotations

import json
import logging
from decimal import Decimal

import ccxt
import pytest
import requests
import responses

from riskmgr.core.errors import (
    AuthError,
    DuplicateClientIdError,
    ExchangeError,
    InsufficientFundsError,
    InvalidOrderError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    RateLimitError,
    TemporaryError,
    ValidationError,
)
from riskmgr.exchanges.ccxt.adapter import exchange_code, sanitize
from riskmgr.exchanges.ccxt.bitget import BitgetAdapter
from tests.exchanges.ccxt.helpers import (
    BITGET,
    KEY,
    PASSPHRASE,
    SECRET,
    bitget,
    bitget_markets_routes,
    route,
)

BTC = "BTC/USDT:USDT"
MIX = f"{BITGET}/api/v2/mix"


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.RateLimitExceeded, RateLimitError),
        (ccxt.DDoSProtection, RateLimitError),
        (ccxt.RequestTimeout, TemporaryError),
        (ccxt.NetworkError, TemporaryError),
        (ccxt.ExchangeNotAvailable, TemporaryError),
        (ccxt.OnMaintenance, TemporaryError),
        (ccxt.InvalidNonce, TemporaryError),
        (ccxt.AuthenticationError, AuthError),
        (ccxt.PermissionDenied, AuthError),
        (ccxt.AccountSuspended, AuthError),
        (ccxt.InsufficientFunds, InsufficientFundsError),
        (ccxt.OrderNotFound, NotFoundError),
        (ccxt.DuplicateOrderId, DuplicateClientIdError),
        (ccxt.InvalidOrder, InvalidOrderError),
        (ccxt.BadRequest, InvalidOrderError),
        (ccxt.BadSymbol, InvalidOrderError),
        (ccxt.NotSupported, NotSupportedError),
        (ccxt.BadResponse, MalformedResponseError),
        (ccxt.OperationRejected, ExchangeError),
        (ccxt.ExchangeError, ExchangeError),
    ],
)
def test_each_ccxt_exception_class_becomes_ours(monkeypatch, bitget_adapter, raised, expected):
    def fail(*args, **kwargs):
        raise raised("bitget something went wrong")

    monkeypatch.setattr(bitget_adapter.client, "fetch_ohlcv", fail)

    with pytest.raises(expected) as caught:
        bitget_adapter.fetch_candles(BTC, "1h")
    assert isinstance(caught.value.__cause__, raised)
    assert (caught.value.account, caught.value.operation) == ("bg-main", "fetch_candles")
    if expected is ExchangeError:
        assert type(caught.value) is ExchangeError


def test_a_timeout_on_the_wire_is_temporary(http, bitget_adapter):
    http.add(responses.GET, f"{MIX}/account/accounts", body=requests.exceptions.ReadTimeout("slow"))

    with pytest.raises(TemporaryError) as caught:
        bitget_adapter.fetch_balance()
    assert isinstance(caught.value.__cause__, ccxt.RequestTimeout)


def test_a_refused_connection_is_temporary(http, bitget_adapter):
    with pytest.raises(TemporaryError) as caught:  # no route registered: responses refuses the connection
        bitget_adapter.fetch_balance()
    assert isinstance(caught.value.__cause__, ccxt.NetworkError)


def test_a_parser_crash_inside_ccxt_is_a_malformed_reply(monkeypatch, bitget_adapter):
    def crash(*args, **kwargs):
        raise IndexError("list index out of range")

    monkeypatch.setattr(bitget_adapter.client, "fetch_ohlcv", crash)

    with pytest.raises(MalformedResponseError, match="IndexError"):
        bitget_adapter.fetch_candles(BTC, "1h")


def test_a_missing_field_is_malformed_and_named(http, bitget_adapter):
    reply = bitget("all_position")
    del reply["data"][0]["markPrice"]
    route(http, "GET", f"{MIX}/position/all-position", reply)

    with pytest.raises(MalformedResponseError, match="'markPrice' is missing"):
        bitget_adapter.fetch_positions()


def test_a_field_that_is_not_a_number_is_malformed_and_named(http, bitget_adapter):
    reply = bitget("accounts")
    reply["data"][1]["accountEquity"] = "n/a"
    route(http, "GET", f"{MIX}/account/accounts", reply)

    with pytest.raises(MalformedResponseError, match="'accountEquity'='n/a' is not a number"):
        bitget_adapter.fetch_balance()


def test_a_reply_without_its_data_list_is_malformed_not_empty(http, bitget_adapter):
    route(http, "GET", f"{MIX}/position/all-position", {"code": "00000", "msg": "success"})

    with pytest.raises(MalformedResponseError, match="'data' is missing"):
        bitget_adapter.fetch_positions()


def test_an_unknown_contract_reloads_markets_once_then_is_malformed(http, bitget_markets):
    adapter = BitgetAdapter("reload", KEY, SECRET, PASSPHRASE, markets=bitget_markets)
    adapter.client.enableRateLimit = False
    reply = bitget("all_position")
    reply["data"][0]["symbol"] = "NEWUSDT"
    route(http, "GET", f"{MIX}/position/all-position", reply)
    bitget_markets_routes(http)

    with pytest.raises(MalformedResponseError, match="unknown contract 'NEWUSDT'"):
        adapter.fetch_positions()
    assert sum("/market/contracts" in c.request.url for c in http.calls) == 6


def test_markets_snapshot_round_trips_through_json(http, bitget_adapter):
    snapshot = json.loads(json.dumps(bitget_adapter.markets_snapshot()))

    adapter = BitgetAdapter("cached", KEY, SECRET, PASSPHRASE, markets=snapshot)

    assert adapter.fetch_markets()[BTC].price_tick == Decimal("0.1")
    assert len(http.calls) == 0


def test_planted_secrets_never_reach_repr_messages_or_logs(http, bitget_adapter, caplog):
    caplog.set_level(logging.DEBUG)
    route(http, "GET", f"{MIX}/account/accounts", bitget("accounts"))
    echo = {"code": "40012", "msg": f"apikey {KEY} / passphrase {PASSPHRASE} / secret {SECRET} is incorrect"}
    http.add(responses.GET, f"{MIX}/position/all-position", status=400, body=json.dumps(echo))

    bitget_adapter.fetch_balance()
    with pytest.raises(AuthError) as caught:
        bitget_adapter.fetch_positions()

    seen = [repr(bitget_adapter), str(bitget_adapter), str(caught.value), repr(caught.value),
            caught.value.describe(), str(caught.value.__cause__), caplog.text]
    assert "/api/v2/mix/account/accounts" in caplog.text  # the wire log ran, scrubbed
    for secret in (KEY, SECRET, PASSPHRASE):
        assert not any(secret in text for text in seen)


def test_sanitize_masks_secrets_signatures_and_auth_headers():
    text = (
        "GET https://fapi.binance.com/fapi/v3/account?timestamp=1&signature=abc123def "
        f"{{'X-MBX-APIKEY': 'other-key', 'ACCESS-SIGN': 'c2lnbg=='}} {SECRET}"
    )

    clean = sanitize(text, [SECRET])

    assert "abc123def" not in clean and "other-key" not in clean and "c2lnbg==" not in clean
    assert SECRET not in clean
    assert "signature=***" in clean and "'X-MBX-APIKEY': '***'" in clean


def test_exchange_code_is_read_from_the_reply_body():
    assert exchange_code('bitget {"code":"40786","msg":"Duplicate clientOid"}') == "40786"
    assert exchange_code('binanceusdm {"code":-4116,"msg":"ClientOrderId is duplicated."}') == "-4116"
    assert exchange_code("bitget GET https://api.bitget.com/x") is None


@pytest.mark.parametrize(("timeframe", "limit", "field"), [("7m", 100, "timeframe"), ("1h", 0, "limit"),
                                                          ("1h", 5000, "limit")])
def test_candle_request_out_of_range_names_the_field(http, bitget_adapter, timeframe, limit, field):
    with pytest.raises(ValidationError) as caught:
        bitget_adapter.fetch_candles(BTC, timeframe, limit=limit)
    assert caught.value.field == field
    assert len(http.calls) == 0
