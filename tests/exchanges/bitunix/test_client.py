import logging

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
    RateLimitError,
    TemporaryError,
)
from riskmgr.exchanges.bitunix.auth import sign
from riskmgr.exchanges.bitunix.client import BitunixClient
from tests.exchanges.bitunix.conftest import API_KEY, BASE, NONCE, NOW, NOW_MS, SECRET, ok, reply

ACCOUNT = f"{BASE}/api/v1/futures/account"
PLACE = f"{BASE}/api/v1/futures/trade/place_order"


def test_get_is_signed_over_the_sorted_query(api, client):
    api.get(ACCOUNT, json=reply("account_list"))

    client.get_account()

    request = api.calls[0].request
    assert request.url == f"{ACCOUNT}?marginCoin=USDT"
    assert request.headers["api-key"] == API_KEY
    assert request.headers["nonce"] == NONCE
    assert request.headers["timestamp"] == str(NOW_MS)
    assert request.headers["sign"] == sign(API_KEY, SECRET, NONCE, NOW_MS, {"marginCoin": "USDT"}, "")


def test_post_sends_compact_json_and_signs_exactly_those_bytes(api, client):
    api.post(PLACE, json=reply("place_order"))

    client.place_order({"symbol": "BTCUSDT", "side": "BUY", "orderType": "MARKET", "qty": "0.01"})

    request = api.calls[0].request
    assert request.body == b'{"symbol":"BTCUSDT","side":"BUY","orderType":"MARKET","qty":"0.01"}'
    assert request.headers["sign"] == sign(API_KEY, SECRET, NONCE, NOW_MS, None, request.body.decode())


def test_public_market_calls_carry_no_keys(api, client):
    api.get(f"{BASE}/api/v1/futures/market/tickers", json=reply("tickers"))

    client.get_tickers()

    assert "api-key" not in api.calls[0].request.headers
    assert "sign" not in api.calls[0].request.headers


class _RecordingSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.kwargs: list[dict] = []

    def request(self, method, url, **kwargs):  # type: ignore[override]
        self.kwargs.append(kwargs)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"code":0,"msg":"Success","data":{"orderId":"1"}}'
        return response


def test_every_call_has_the_configured_timeout():
    session = _RecordingSession()
    client = BitunixClient(API_KEY, SECRET, session=session, timeout=4)

    client.get_account()
    client.flash_close_position("42")

    assert [kw["timeout"] for kw in session.kwargs] == [4, 4]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (10001, TemporaryError),
        (10005, RateLimitError),
        (10006, RateLimitError),
        (10003, AuthError),
        (10004, AuthError),
        (10007, AuthError),
        (20011, AuthError),
        (20003, InsufficientFundsError),
        (20008, InsufficientFundsError),
        (20007, NotFoundError),
        (30004, NotFoundError),
        (30042, DuplicateClientIdError),
        (20001, InvalidOrderError),
        (30016, InvalidOrderError),
        (2, ExchangeError),
    ],
)
def test_envelope_error_code_maps_to_its_exception_class(api, client, code, expected):
    api.post(PLACE, json={"code": code, "msg": "refused by the exchange", "data": None})

    with pytest.raises(expected) as caught:
        client.place_order({"symbol": "BTCUSDT"})

    assert type(caught.value) is expected
    assert caught.value.code == str(code)
    assert caught.value.operation == "/api/v1/futures/trade/place_order"
    assert caught.value.account == "main"
    assert "refused by the exchange" in str(caught.value)


def test_error_code_sent_as_a_string_is_understood(api, client):
    api.get(ACCOUNT, json={"code": "10007", "msg": "Signature Error", "data": None})

    with pytest.raises(AuthError):
        client.get_account()


def test_http_429_is_a_rate_limit(api, client):
    api.get(ACCOUNT, status=429, body="")

    with pytest.raises(RateLimitError, match="429"):
        client.get_account()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_temporary(api, client, status):
    api.get(ACCOUNT, status=status, body="<html>bad gateway</html>")

    with pytest.raises(TemporaryError, match=str(status)):
        client.get_account()


def test_timeout_is_temporary(api, client):
    api.get(ACCOUNT, body=requests.Timeout("read timed out"))

    with pytest.raises(TemporaryError, match="no answer within 10s"):
        client.get_account()


def test_connection_failure_is_temporary(api, client):
    api.get(ACCOUNT, body=requests.ConnectionError("refused"))

    with pytest.raises(TemporaryError, match="connection failed"):
        client.get_account()


def test_non_json_reply_is_malformed_and_quotes_the_body(api, client):
    api.get(ACCOUNT, status=200, body="<html>maintenance</html>")

    with pytest.raises(MalformedResponseError) as caught:
        client.get_account()

    assert "maintenance" in str(caught.value)
    assert caught.value.operation == "/api/v1/futures/account"


def test_reply_without_a_code_is_malformed(api, client):
    api.get(ACCOUNT, json={"data": {"available": "1"}})

    with pytest.raises(MalformedResponseError, match="code"):
        client.get_account()


def test_http_401_without_envelope_is_an_auth_error(api, client):
    api.get(ACCOUNT, status=401, body="unauthorized")

    with pytest.raises(AuthError, match="401"):
        client.get_account()


def test_cancel_reports_each_refused_id_with_its_reason(api, client):
    api.post(f"{BASE}/api/v1/futures/trade/cancel_orders", json=reply("cancel_with_failure"))

    result = client.cancel_orders("BTCUSDT", ["11111", "22222"])

    assert result.succeeded == ("11111",)
    [failure] = result.failed
    assert (failure.order_id, failure.code, failure.message) == ("22222", 10013, "Order status error")
    assert isinstance(failure.error("cancel_orders"), NotFoundError)


def test_cancel_all_with_null_data_cancelled_nothing(api, client):
    api.post(f"{BASE}/api/v1/futures/trade/cancel_all_orders", json=ok(None))

    result = client.cancel_all_orders()

    assert (result.succeeded, result.failed) == ((), ())


def test_pending_orders_follow_the_pages(api, client):
    row = reply("pending_orders")["data"]["orderList"][0]
    first = [dict(row, orderId=str(i)) for i in range(100)]
    api.get(f"{BASE}/api/v1/futures/trade/get_pending_orders", json=ok({"orderList": first, "total": 101}))
    api.get(f"{BASE}/api/v1/futures/trade/get_pending_orders", json=ok({"orderList": [row], "total": 101}))

    rows = client.get_pending_orders()

    assert len(rows) == 101
    assert "skip=100" in api.calls[1].request.url


def test_pending_orders_short_of_their_total_are_malformed(api, client):
    api.get(f"{BASE}/api/v1/futures/trade/get_pending_orders", json=ok({"orderList": [], "total": 3}))

    with pytest.raises(MalformedResponseError, match="total says 3"):
        client.get_pending_orders()


def test_keys_never_appear_in_repr_errors_or_logs(api, caplog):
    planted_key, planted_secret = "PLANTED-KEY-1a2b3c", "PLANTED-SECRET-4d5e6f"
    client = BitunixClient(planted_key, planted_secret, account="main")
    api.get(ACCOUNT, json={"code": 10007, "msg": "Signature Error", "data": None})
    api.post(PLACE, body=requests.ConnectionError("refused"))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError) as auth_failure:
        client.get_account()
    with pytest.raises(TemporaryError) as network_failure:
        client.place_order({"symbol": "BTCUSDT"})

    shown = " ".join([repr(client), str(client), str(auth_failure.value), repr(auth_failure.value),
                      str(network_failure.value), auth_failure.value.describe(), caplog.text])
    assert "PLANTED" not in shown


def test_now_comes_from_the_injected_clock(api, client, clock):
    api.get(ACCOUNT, json=reply("account_list"))
    clock.advance(seconds=1.5)

    client.get_account()

    assert api.calls[0].request.headers["timestamp"] == str(NOW_MS + 1500)
    assert NOW.tzinfo is not None


@responses.activate
def test_base_url_is_configurable():
    client = BitunixClient(API_KEY, SECRET, base_url="https://example.test/")
    responses.get("https://example.test/api/v1/futures/account", json=reply("account_list"))

    client.get_account()

    assert responses.calls[0].request.url.startswith("https://example.test/api/v1/futures/account?")
