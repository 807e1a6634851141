"""Every JSON write route under /api, found in the URL map (so a route added later is covered too), is sent hostile
bodies, hand-picked and generated: it never answers 5xx, nothing non-finite or oversized reaches the database or the
audit log, and the app answers normally afterwards."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, Float, Numeric, String, Text, select
from sqlalchemy.orm import Session

from riskmgr.accounts.monitor import poll_cycle
from riskmgr.persistence.extensions import db
from riskmgr.risk.config import FIELDS
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BTC = "BTC/USDT:USDT"
PRESET = "fuzz-preset"
HUGE = "x" * 200_000
TEXT_COLUMN_MAX = 20_000  # a Text column (messages, reasons) holds at most this many characters after the run
JSON_COLUMN_MAX = 64_000  # a JSON column (audit data, intents, scans: all below 5 kB here) holds at most this much
AUDIT_ROW_MAX = 20_000  # one audit event (message and data) at most
NUMBER_MAX = 1e15

# values put in place of every known field of a route's body
HOSTILE_VALUES: list[Any] = [
    None, 0, -1, False, True, "", " ", [], {}, [[[1]]], {"a": {"b": 1}}, HUGE, 1e308, -1e308, 10**30, -(10**30),
    5e-324, "1e308", "NaN", "Infinity", "-0", "0x10", "1_000", "\u202eLTR\u202c", "😀" * 50, "a\u0000b", "\ud800",
]

# whole bodies: raw bytes with the content type they are sent with
RAW_BODIES: list[tuple[bytes, str]] = [
    (b"NaN", "application/json"),
    (b'{"qty": NaN, "price": Infinity, "stop_loss": -Infinity}', "application/json"),
    (b'{"reason": Infinity}', "application/json"),
    (b"[" * 10_000 + b"]" * 10_000, "application/json"),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
    (b'{"a": "' + b"[" * 10_000 + b'"}', "application/json"),  # brackets inside a string are not nesting
    (b'{"qty": 1e999}', "application/json"),
    (b'{"qty": ' + b"9" * 5000 + b"}", "application/json"),
    (b"\xff\xfe\x00{", "application/json"),
    (b'{"reason": "\xc3\x28"}', "application/json"),
    ('{"reason": "x"}'.encode("utf-16"), "application/json"),
    (b"", "application/json"),
    (b"null", "application/json"),
    (b"[]", "application/json"),
    (b'"text"', "application/json"),
    (b"1e308", "application/json"),
    (b"{", "application/json"),
    (b'{"reason": "drill"}', "text/plain"),
    (b"reason=drill&account=paper", "application/x-www-form-urlencoded"),
    (b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    (b'{"reason": "drill"}', "application/json; charset=latin-1"),
]


def base_bodies(runtime) -> dict[str, dict[str, Any]]:
    """Return a plausible body per route path: the fields it knows, each then replaced by every hostile value."""
    mark = runtime.market.ticker(BTC).mark
    ticket = {
        "account": "paper", "symbol": BTC, "type": "market", "side": "buy", "qty": "0.001", "price": str(mark),
        "leverage": 2, "margin_mode": "isolated", "stop_loss": str((mark * Decimal("0.98")).quantize(Decimal(1))),
        "take_profit": str((mark * Decimal("1.06")).quantize(Decimal(1))), "reduce_only": False,
        "intent_id": "fuzz-1", "recentre": False, "reference_price": str(mark),
    }
    backtest = {
        "preset": "conservative", "strategy": "signals", "source": "simulated", "symbol": BTC, "timeframe": "1h",
        "timezone": "UTC", "capital": "1000", "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z",
        "leverage": 2, "limits": {"max_leverage": 3}, "signal": {"indicators": {}}, "contract": {},
        "dataset_id": None, "sma_fast": 10, "sma_slow": 20, "taker_fee_pct": "0.05", "name": "fuzz",
    }
    return {
        "/api/orders": ticket,
        "/api/orders/preview": ticket,
        "/api/positions/close": {"account": "paper", "symbol": BTC, "side": "long", "intent_id": "fuzz-close"},
        "/api/risk/limits": {spec.name: value for spec, value in zip(FIELDS, _limit_values(), strict=True)},
        "/api/rearm": {"reason": "fuzz"},
        "/api/emergency-stop": {"reason": "fuzz drill"},
        "/api/alerts/toggles": {"kind": "state.changed", "enabled": True},
        "/api/backtests": backtest,
        "/api/backtests/presets": {"name": PRESET, "description": "fuzz", "params": {"leverage": 2}, "base": None},
        "/api/accounts/<name>/selftest": {"symbol": BTC},
        "/api/positions/protection": {"account": "paper", "symbol": BTC, "side": "long", "stop_loss": str(mark / 2),
                                      "take_profit": str(mark * 2), "break_even": False, "intent_id": "fuzz-move"},
        "/api/positions/partial-close": {"account": "paper", "symbol": BTC, "side": "long", "percent": 50,
                                         "qty": "0.001", "intent_id": "fuzz-partial"},
        "/api/accounts/<name>/entries": {"paused": False, "reason": "fuzz"},
        "/api/accounts/<name>/auto-trading": {"enabled": "default", "reason": "fuzz"},
    }


def _limit_values() -> list[Any]:
    from riskmgr.risk.config import RiskLimits

    return list(RiskLimits().to_dict().values())


def write_routes(app) -> list[tuple[str, str, str]]:
    """Return (method, rule, endpoint) of every write route under /api, from the URL map.

    The emergency stop comes last: once it has run trading is HALTED, and orders would only meet that denial.
    """
    routes = {
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method in WRITE_METHODS
    }
    return sorted(routes, key=lambda r: (r[1] == "/api/emergency-stop", r))


def urls(app, rule_text: str, endpoint: str, method: str, ids: dict[str, list[Any]]) -> list[str]:
    """Return the URLs of a route: each path parameter filled with real ids and a junk one."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint)
    adapter = app.url_map.bind("localhost")
    combos: list[dict[str, Any]] = [{}]
    for arg in sorted(rule.arguments):
        numeric = type(rule._converters[arg]).__name__ == "IntegerConverter"
        values = ids.get(arg, [1, 999_999] if numeric else ["fuzz", "no-such-" + "x" * 300])
        if numeric:
            values = [v for v in values if isinstance(v, int)]
        combos = [c | {arg: v} for c in combos for v in values]
    return [adapter.build(endpoint, c, method=method) for c in combos]


class Fuzzer:
    """Send requests and collect every answer that is a 5xx (with what was sent)."""

    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []
        self.sent = 0

    def send(self, method: str, url: str, data: bytes, content_type: str | None) -> int:
        headers = dict(AUTH)
        if content_type is not None:
            headers["Content-Type"] = content_type
        answer = self.client.open(url, method=method, data=data, headers=headers)
        self.sent += 1
        if answer.status_code >= 500:
            self.failures.append(f"{method} {url} {data[:120]!r} -> {answer.status_code} "
                                 f"{answer.get_data(as_text=True)[:300]}")
        return answer.status_code

    def send_json(self, method: str, url: str, body: Any) -> int:
        return self.send(method, url, json.dumps(body, allow_nan=True).encode(), "application/json")


@pytest.fixture
def world(app, runtime, monkeypatch):
    """A polled paper account, a saved preset and a backtest run to address; runs are recorded, not executed."""
    monkeypatch.setattr("riskmgr.backtest.service.execute_run", lambda rt, run_id: None)
    poll_cycle(runtime)
    client = app.test_client()
    saved = client.post("/api/backtests/presets", json={"name": PRESET, "params": {"leverage": 2}}, headers=AUTH)
    assert saved.status_code == 201, saved.get_json()
    run = client.post("/api/backtests", json={"timeframe": "1h"}, headers=AUTH)
    assert run.status_code == 202, run.get_json()
    ids = {"name": ["paper", PRESET, "no-such-" + "x" * 300], "run_id": [run.get_json()["id"], 999_999]}
    return client, ids


def test_the_route_list_comes_from_the_url_map_and_holds_every_json_write_route(app):
    routes = {(m, r) for m, r, _ in write_routes(app)}

    assert ("POST", "/api/orders") in routes and ("PUT", "/api/risk/limits") in routes
    assert ("POST", "/api/orders/preview") in routes and ("POST", "/api/positions/close") in routes
    assert ("DELETE", "/api/backtests/<int:run_id>") in routes
    assert len(routes) >= 14


def test_hostile_bodies_on_every_write_route_never_give_a_5xx_nor_store_garbage(app, runtime, world):
    client, ids = world
    fuzzer = Fuzzer(client)
    bases = base_bodies(runtime)
    limit = runtime.settings.max_request_bytes
    for method, rule, endpoint in write_routes(app):
        base = bases.get(rule, {"name": "fuzz", "symbol": BTC, "reason": "fuzz"})
        for url in urls(app, rule, endpoint, method, ids):
            for data, content_type in RAW_BODIES:
                fuzzer.send(method, url, data, content_type)
            oversized = fuzzer.send(method, url, b'{"a": "' + b"x" * limit + b'"}', "application/json")
            assert oversized == 413 or getattr(app.view_functions[endpoint], "large_body", False), (method, url)
            fuzzer.send(method, url, b"", None)
            for field in base:
                for value in HOSTILE_VALUES:
                    fuzzer.send_json(method, url, base | {field: value})
            fuzzer.send_json(method, url, {HUGE: 1})
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:20])
    _wait_for_emergency(runtime)
    assert_database_clean(app)
    assert_app_answers(client)


def json_values(fields: list[str]):
    scalars = (
        st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**40), max_value=10**40)
        | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0])
        | st.text(max_size=30) | st.sampled_from(["", "0", "NaN", "Infinity", "1e308", "paper", BTC, "UTC", "\u202e"])
    )
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=8), inner, max_size=3), max_leaves=8)
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=10), values, max_size=6)


def test_generated_json_on_every_write_route_never_gives_a_5xx_nor_stores_garbage(app, runtime, world):
    client, ids = world
    fuzzer = Fuzzer(client)
    bases = base_bodies(runtime)
    targets = [
        (method, url, bases.get(rule, {}))
        for method, rule, endpoint in write_routes(app)
        for url in urls(app, rule, endpoint, method, ids)[:1]
    ]
    fields = sorted({k for _, _, base in targets for k in base})

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(body=json_values(fields), mix=st.booleans())
    def run(body: dict[str, Any], mix: bool) -> None:
        for method, url, base in targets:
            fuzzer.send_json(method, url, (base | body) if mix else body)

    run()
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:20])
    _wait_for_emergency(runtime)
    assert_database_clean(app)
    assert_app_answers(client)


# -- after the run -----------------------------------------------------------------------------------------------
def _wait_for_emergency(runtime) -> None:
    from riskmgr.risk.emergency.feature import service

    svc = service(runtime)
    view = svc.view()
    if view.get("id") is not None and view.get("running"):
        svc.wait(view["id"], timeout=60)


def assert_database_clean(app) -> None:
    """Every text column within its length, every number finite and bounded, every JSON value finite and small."""
    problems: list[str] = []
    with app.app_context(), Session(db.engine) as session:
        for table in db.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column in table.columns:
                    problems += _check_value(table.name, column, row[column.name])
                if table.name == "audit_event":
                    size = len(row["message"]) + len(json.dumps(row["data"], default=str))
                    if size > AUDIT_ROW_MAX:
                        problems.append(f"audit_event #{row['id']} is {size} characters: {row['message'][:80]!r}")
    assert not problems, "\n".join(problems[:20])


def _check_value(table: str, column, value: Any) -> list[str]:
    where = f"{table}.{column.name}"
    kind = column.type
    if value is None:
        return []
    if isinstance(kind, String) and not isinstance(kind, Text) and kind.length and len(value) > kind.length:
        return [f"{where} holds {len(value)} characters; the column allows {kind.length}"]
    if isinstance(kind, Text) and len(value) > TEXT_COLUMN_MAX:
        return [f"{where} holds {len(value)} characters: {value[:80]!r}"]
    if isinstance(kind, Numeric | Float) or isinstance(value, float | Decimal):
        number = float(value)
        if not math.isfinite(number) or abs(number) >= NUMBER_MAX:
            return [f"{where} holds {value!r}"]
    if isinstance(kind, JSON):
        try:
            text = json.dumps(value, allow_nan=False, default=str)
        except ValueError:
            return [f"{where} holds a non-finite number: {json.dumps(value, default=str)[:200]}"]
        if len(text) > JSON_COLUMN_MAX:
            return [f"{where} holds {len(text)} bytes of JSON"]
    return []


def assert_app_answers(client) -> None:
    assert client.get("/health").status_code == 200
    snapshot = client.get("/api/snapshot", headers=AUTH)
    assert snapshot.status_code == 200
    assert [a["name"] for a in snapshot.get_json()["accounts"]] == ["paper"]
