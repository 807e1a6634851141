"""Bounded input: request size, JSON decoding, string lengths, symbols against the market, finite numbers in range,
and 0 / false / "" / missing told apart. Each case was a 500, or stored garbage, before."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import MAX_JSON_DEPTH, nesting_depth, parse_json_object
from riskmgr.persistence.models import AuditEvent, OrderIntent
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
BTC = "BTC/USDT:USDT"


def _ticket(runtime, **changes):
    mark = runtime.market.ticker(BTC).mark
    return {"account": "paper", "symbol": BTC, "type": "market", "side": "buy", "qty": "0.01",
            "stop_loss": str(int(mark * 98 / 100)), "take_profit": str(int(mark * 106 / 100))} | changes


def _field(answer) -> str:
    return answer.get_json()["detail"]["field"]


def _rows(runtime, model) -> int:
    with Session(runtime.engine) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/orders"), ("post", "/api/orders/preview"), ("post", "/api/rearm"), ("post", "/api/emergency-stop"),
    ("post", "/api/positions/close"), ("post", "/api/backtests"), ("put", "/api/alerts/toggles"),
    ("put", "/api/risk/limits"), ("post", "/api/backtests/presets"), ("post", "/api/accounts/paper/selftest"),
])
def test_deeply_nested_json_is_a_400_naming_the_body(api, method, path):
    answer = getattr(api, method)(path, data=b"[" * 10_000 + b"]" * 10_000, content_type="application/json")

    assert answer.status_code == 400
    assert _field(answer) == "body" and "10000 levels" in answer.get_json()["detail"]["message"]


def test_nesting_depth_skips_brackets_inside_strings_and_escaped_quotes():
    assert nesting_depth(b'{"a": "[[[[\\"[[[", "b": [[1]]}') == 3
    assert nesting_depth(b"[" * 1000) == 1000
    assert nesting_depth(b"") == 0


def test_json_up_to_the_depth_limit_parses_and_one_more_level_is_refused():
    ok = b'{"a":' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert isinstance(parse_json_object(ok)["a"], list)
    with pytest.raises(ValidationError, match=f"at most {MAX_JSON_DEPTH}"):
        parse_json_object(b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}")


@pytest.mark.parametrize("raw", [b'{"qty": NaN}', b'{"qty": Infinity}', b'{"qty": -Infinity}', b'{"qty": 1e999}'])
def test_non_finite_number_literals_are_refused_naming_the_body(api, runtime, raw):
    answer = api.post("/api/orders/preview", data=raw, content_type="application/json")

    assert answer.status_code == 400 and _field(answer) == "body"


@pytest.mark.parametrize(("data", "content_type"), [
    (b'{"reason": "x"}', "text/plain"),
    (b"reason=x", "application/x-www-form-urlencoded"),
    (b'{"reason": "\xff"}', "application/json"),
    (b"", "application/json"),
    (b"[1]", "application/json"),
])
def test_a_body_that_is_not_a_utf8_json_object_is_a_400_naming_the_body(api, data, content_type):
    answer = api.post("/api/rearm", data=data, content_type=content_type)

    assert answer.status_code == 400 and _field(answer) == "body"


def test_a_nul_character_or_lone_surrogate_in_a_string_is_refused_naming_the_field(api):
    for raw in (b'{"reason": "a\\u0000b"}', b'{"reason": "\\ud800"}'):
        answer = api.post("/api/rearm", data=raw, content_type="application/json")
        assert answer.status_code == 400 and _field(answer) == "reason"


def test_a_body_above_max_request_bytes_is_a_413_naming_the_limit(api, runtime):
    limit = runtime.settings.max_request_bytes
    answer = api.post("/api/rearm", data=json.dumps({"reason": "x" * limit}), content_type="application/json")

    assert answer.status_code == 413
    detail = answer.get_json()["detail"]
    assert detail["field"] == "body" and detail["limit"] == limit and "MAX_REQUEST_BYTES" in detail["message"]


def test_the_dataset_upload_has_its_own_larger_cap_and_is_a_413_above_it(tmp_path, clock):
    from riskmgr import create_app
    from riskmgr.persistence.extensions import db
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, max_request_bytes=16_384, max_upload_bytes=1_048_576,
                                   extra={"clock": clock}))
    with app.app_context():
        db.create_all()
    client = app.test_client()
    csv = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{1_700_000_000 + 3600 * k},100,101,99,100,5\n" for k in range(1000))
    assert 16_384 < len(csv) < 1_048_576
    ok = client.post("/api/backtests/datasets", headers=AUTH, content_type="multipart/form-data",
                     data={"symbol": BTC, "timeframe": "1h", "file": (io.BytesIO(csv.encode()), "bars.csv")})
    assert ok.status_code == 201, ok.get_json()
    big = client.post("/api/backtests/datasets", headers=AUTH, content_type="multipart/form-data",
                      data={"symbol": BTC, "timeframe": "1h", "file": (io.BytesIO(b"x" * 1_100_000), "b.csv")})
    assert big.status_code == 413 and "MAX_UPLOAD_BYTES" in big.get_json()["detail"]["message"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_200000_character_time_zone_is_a_400_naming_the_field(api):
    answer = api.put("/api/risk/limits", json={"risk_day_timezone": "A" * 200_000})

    assert answer.status_code == 400 and _field(answer) == "risk_day_timezone"
    assert len(answer.get_data()) < 2000  # the value is not echoed back


def test_closing_a_position_with_a_huge_or_unknown_symbol_stores_nothing(api, runtime):
    poll_cycle(runtime)
    intents, events = _rows(runtime, OrderIntent), _rows(runtime, AuditEvent)
    for symbol in ("X" * 200_000, "NOPE/USDT:USDT"):
        answer = api.post("/api/positions/close", json={"account": "paper", "symbol": symbol, "side": "long"})
        assert answer.status_code == 400 and _field(answer) == "symbol"
    assert (_rows(runtime, OrderIntent), _rows(runtime, AuditEvent)) == (intents, events)


@pytest.mark.parametrize(("changes", "field"), [
    ({"qty": 1e308}, "qty"), ({"qty": "1e308"}, "qty"), ({"qty": -1e308}, "qty"), ({"qty": "0.0000001"}, "qty"),
    ({"type": "limit", "price": 1e308}, "price"), ({"take_profit": 1e308}, "take_profit"),
    ({"stop_loss": "0.000001"}, "stop_loss"), ({"margin_mode": 0}, "margin_mode"), ({"margin_mode": ""}, "margin_mode"),
    ({"margin_mode": False}, "margin_mode"), ({"qty": ""}, "qty"), ({"qty": False}, "qty"),
    ({"leverage": True}, "leverage"),
    ({"leverage": 2.5}, "leverage"), ({"reduce_only": 0}, "reduce_only"), ({"reduce_only": "yes"}, "reduce_only"),
    ({"intent_id": 0}, "intent_id"), ({"intent_id": "x" * 65}, "intent_id"), ({"intent_id": "a b"}, "intent_id"),
    ({"symbol": "X" * 200_000}, "symbol"), ({"account": ["paper"]}, "account"), ({"stoploss": "1"}, "stoploss"),
])
def test_a_ticket_field_out_of_range_or_of_the_wrong_type_is_a_400_naming_it(api, runtime, changes, field):
    answer = api.post("/api/orders/preview", json=_ticket(runtime, **changes))

    assert answer.status_code == 400, answer.get_json()
    assert _field(answer) == field


def test_a_ticket_with_null_optional_fields_is_the_same_as_without_them(api, runtime):
    poll_cycle(runtime)
    plain = api.post("/api/orders/preview", json=_ticket(runtime))
    nulls = api.post("/api/orders/preview", json=_ticket(runtime, margin_mode=None, leverage=None, price=None,
                                                          intent_id=None, reduce_only=None))

    assert plain.status_code == nulls.status_code == 200
    assert plain.get_json()["qty"] == nulls.get_json()["qty"]


@pytest.mark.parametrize(("body", "field"), [
    ({"preset": 0}, "preset"), ({"preset": ""}, "preset"), ({"symbol": "X" * 100_000}, "symbol"),
    ({"timezone": "A" * 200_000}, "timezone"), ({"capital": 1e308}, "capital"), ({"dataset_id": ""}, "dataset_id"),
    ({"start": 0}, "start"), ({"contract": ""}, "contract"), ({"signal": {"indicators": 0}}, "signal.indicators"),
    ({"name": "x" * 65}, "name"),
])
def test_backtest_settings_out_of_range_or_of_the_wrong_type_are_a_400_naming_them(api, body, field):
    answer = api.post("/api/backtests", json=body)

    assert answer.status_code == 400, answer.get_json()
    assert _field(answer) == field


def _upload(api, csv: str, symbol: str = BTC):
    return api.post("/api/backtests/datasets", content_type="multipart/form-data",
                    data={"symbol": symbol, "timeframe": "1h", "file": (io.BytesIO(csv.encode()), "bars.csv")})


def test_a_dataset_with_a_huge_symbol_or_absurd_candles_is_refused(api):
    good = "timestamp,open,high,low,close,volume\n1700000000,100,101,99,100,5\n1700003600,100,101,99,100,5\n"
    assert _field(_upload(api, good, symbol="X" * 100_000)) == "symbol"
    for bad in ("1700003600,1e308,1e308,1e308,1e308,5", "1700003600,100,101,99,100,1e300",
                "1e30,100,101,99,100,5", "4200000000000,100,101,99,100,5"):
        answer = _upload(api, good.rsplit("\n", 2)[0] + "\n" + bad + "\n")
        assert answer.status_code == 400 and _field(answer) == "file", bad
    assert _upload(api, good).status_code == 201


@pytest.mark.parametrize(("path", "method", "body", "field"), [
    ("/api/rearm", "post", {"reason": "x" * 501}, "reason"),
    ("/api/rearm", "post", {"reason": 0}, "reason"),
    ("/api/alerts/toggles", "put", {"kind": "state.changed", "enabled": 0}, "enabled"),
    ("/api/alerts/toggles", "put", {"kind": "x" * 100_000, "enabled": True}, "kind"),
    ("/api/risk/limits", "put", {"partial_tp_enabled": 0}, "partial_tp_enabled"),
    ("/api/risk/limits", "put", {"max_leverage": ""}, "max_leverage"),
    ("/api/risk/limits", "put", {"max_leverage": 1e308}, "max_leverage"),
    ("/api/backtests/presets", "post", {"name": "p", "params": {}, "description": "x" * 201}, "description"),
    ("/api/backtests/presets", "post", {"name": "p", "params": {}, "base": 0}, "base"),
    ("/api/accounts/paper/selftest", "post", {"symbol": "X" * 100_000}, "symbol"),
])
def test_text_too_long_and_values_of_the_wrong_type_are_a_400_naming_the_field(api, path, method, body, field):
    answer = getattr(api, method)(path, json=body)

    assert answer.status_code == 400, answer.get_json()
    assert _field(answer) == field


def test_in_json_only_absent_or_null_is_not_set_but_in_a_query_string_empty_is_too():
    from werkzeug.datastructures import MultiDict

    from riskmgr.core.validation import opt_bool, opt_decimal, opt_int, opt_str

    assert opt_decimal({}, "qty") is None and opt_decimal({"qty": None}, "qty") is None
    assert opt_int(MultiDict({"limit": ""}), "limit", 1, 10) is None
    assert opt_str(MultiDict({"kind": ""}), "kind") is None
    assert opt_bool(MultiDict({"on": "on"}), "on") is True and opt_bool({"on": None}, "on") is False
    for parse, value in ((lambda d: opt_decimal(d, "f"), ""), (lambda d: opt_decimal(d, "f"), False),
                         (lambda d: opt_int(d, "f", 0, 9), ""), (lambda d: opt_int(d, "f", 0, 9), True),
                         (lambda d: opt_str(d, "f"), ""), (lambda d: opt_str(d, "f"), 0),
                         (lambda d: opt_bool(d, "f"), 0), (lambda d: opt_bool(d, "f"), "false")):
        with pytest.raises(ValidationError) as caught:
            parse({"f": value})
        assert caught.value.field == "f", value
