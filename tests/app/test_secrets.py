"""A secret planted as an account's key, secret or passphrase appears nowhere riskmgr writes or answers.

Three live accounts (Bitunix, Bitget, Binance; mocked with documented payloads) are declared in the
environment with planted credentials. The app polls them (every feature hook runs: the watchdog places and
escalates), answers every page and GET API, runs a self-test, and meets an exchange error that echoes a key.
Then the database (every table, and the file bytes), the audit log, every answer, the reprs and the log
records (before any masking) are searched for each planted value.
"""

from __future__ import annotations

import json
import logging
import re

import ccxt
import pytest
import responses
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.accounts.registry import parse_accounts
from riskmgr.app import features
from riskmgr.persistence.extensions import db
from tests.accounts.test_watchdog import binance_routes, bitget_routes, bitunix_routes
from tests.conftest import login, make_settings
from tests.exchanges.ccxt.helpers import BINANCE, BITGET, binance, bitget

PLANTED = {
    "bx_key": "PLANTEDbxKEY7f3a9c1e5b2d", "bx_secret": "PLANTEDbxSECRET0a1b2c3d4e",
    "bg_key": "PLANTEDbgKEY9e8d7c6b5a4f", "bg_secret": "PLANTEDbgSECRET1f2e3d4c5b",
    "bg_pass": "PLANTEDbgPASS6a7b8c9d",
    "bn_key": "PLANTEDbnKEY2b4d6f8a0c1e", "bn_secret": "PLANTEDbnSECRET3c5e7a9b1d",
}
ENV = {
    "ACCOUNTS": "bx,bg,bn",
    "ACCOUNT_BX_EXCHANGE": "bitunix", "ACCOUNT_BX_API_KEY": PLANTED["bx_key"],
    "ACCOUNT_BX_API_SECRET": PLANTED["bx_secret"],
    "ACCOUNT_BG_EXCHANGE": "bitget", "ACCOUNT_BG_API_KEY": PLANTED["bg_key"],
    "ACCOUNT_BG_API_SECRET": PLANTED["bg_secret"], "ACCOUNT_BG_PASSPHRASE": PLANTED["bg_pass"],
    "ACCOUNT_BN_EXCHANGE": "binanceusdm", "ACCOUNT_BN_API_KEY": PLANTED["bn_key"],
    "ACCOUNT_BN_API_SECRET": PLANTED["bn_secret"],
}


def leaks(text: str) -> list[str]:
    """Return the names of the planted values found in ``text``."""
    return [name for name, value in PLANTED.items() if value in text]


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def live(tmp_path, clock, http, monkeypatch):
    """An app with the three planted accounts on mocked venues (and the paper account)."""
    monkeypatch.setattr(ccxt.Exchange, "enableRateLimit", False)  # no sleeping between mocked calls
    bitunix_routes(http)
    bitget_routes(http)
    http.post(f"{BITGET}/api/v2/mix/order/place-tpsl-order", json=bitget("place_tpsl_sl"))
    orders: list[dict] = []
    binance_routes(http, algo=[], orders=orders)
    http.add("POST", f"{BINANCE}/fapi/v1/algoOrder", json=dict(binance("algo_sl_new"), triggerPrice="59100.0"))
    route_binance_selftest(http, orders)
    settings = make_settings(tmp_path, extra={"clock": clock}, live_accounts=parse_accounts(ENV))
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    from riskmgr.web.auth import ensure_admin_credentials

    ensure_admin_credentials(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def route_binance_selftest(http, orders: list[dict]) -> None:
    """Serve the self-test's limit order: accepted, listed until cancelled, then gone."""
    for name, path in (("ticker_24hr", "ticker/24hr"), ("premium_index", "premiumIndex")):
        http.add("GET", re.compile(rf"{re.escape(BINANCE)}/fapi/v1/{path}(\?.*)?$"), json=binance(name))

    def place(request):  # type: ignore[no-untyped-def]
        row = dict(binance("open_orders")[0], orderId=4242, clientOrderId="echo")
        orders.append(row)
        return 200, {}, json.dumps(row)

    def cancel(request):  # type: ignore[no-untyped-def]
        row = orders.pop()
        return 200, {}, json.dumps(dict(row, status="CANCELED"))

    http.add_callback("POST", re.compile(rf"{re.escape(BINANCE)}/fapi/v1/order(\?.*)?$"), callback=place)
    # what the real rules read and the order sets: no realized P&L (no losing streak), the leverage
    http.add("GET", re.compile(rf"{re.escape(BINANCE)}/fapi/v1/income(\?.*)?$"), json=[])
    http.add("POST", re.compile(rf"{re.escape(BINANCE)}/fapi/v1/leverage(\?.*)?$"),
             json=dict(binance("leverage"), symbol="DOGEUSDT", leverage=5))
    http.add_callback("DELETE", re.compile(rf"{re.escape(BINANCE)}/fapi/v1/order(\?.*)?$"), callback=cancel)


def get_routes(app) -> list[str]:
    """Return every GET route without URL arguments (pages and API), except logging out and static files."""
    skip = {"static", "auth.logout"}
    return sorted({r.rule for r in app.url_map.iter_rules()
                   if "GET" in r.methods and not r.arguments and r.endpoint not in skip})


def test_planted_secrets_appear_nowhere(live, clock, caplog, http):
    caplog.set_level(logging.DEBUG)
    runtime = live.extensions["riskmgr"]
    answers: list[str] = []

    snaps = poll_cycle(runtime, features.poll_hooks())
    clock.advance(5)
    assert {s.account: s.status.value for s in snaps} == {"paper": "ok", "bx": "ok", "bg": "ok", "bn": "ok"}
    assert runtime.audit.query(kind="watchdog.placed")  # the watchdog acted on the live accounts

    client = live.test_client()
    login(client)
    for path in get_routes(live):
        res = client.get(path)
        answers.append(f"{path} {res.status_code} {res.get_data(as_text=True)}")
    # DOGE, not BTC: bn holds a BTC long already above the notional cap, so the rules (rightly) deny any BTC buy
    selftest = client.post("/api/accounts/bn/selftest", json={"symbol": "DOGE/USDT:USDT"},
                           headers={"X-CSRFToken": _csrf(client)})
    assert selftest.get_json()["ok"] is True, selftest.get_json()
    answers.append(selftest.get_data(as_text=True))

    # an exchange that echoes the key in its error: the message is scrubbed before it is stored or shown
    http.replace("GET", re.compile(rf"{re.escape(BINANCE)}/fapi/v3/account(\?.*)?$"), status=401,
                 json={"code": -2015, "msg": f"Invalid API-key {PLANTED['bn_key']}, IP, or permissions"})
    snaps = poll_cycle(runtime, features.poll_hooks())
    assert {s.account: s.status.value for s in snaps}["bn"] == "error"
    answers.append(client.get("/api/accounts").get_data(as_text=True))
    answers.append(client.get("/api/snapshot").get_data(as_text=True))

    assert leaks("\n".join(answers)) == []
    assert leaks(json.dumps(runtime.audit.query(limit=100000), default=str)) == []
    assert leaks(_database_dump(runtime)) == []
    assert leaks(_database_bytes(live)) == []
    reprs = [repr(runtime.settings), repr(runtime.settings.live_accounts), str(runtime.settings.live_accounts),
             *(repr(a) for a in runtime.accounts.values()), repr(runtime.gateway), repr(runtime)]
    assert leaks("\n".join(reprs)) == []
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records)
    assert logged and leaks(logged) == []


def _csrf(client) -> str:
    page = client.get("/accounts").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def _database_dump(runtime) -> str:
    with Session(runtime.engine) as session:
        return "\n".join(
            f"{table.name}: {row!r}" for table in db.metadata.sorted_tables for row in session.execute(select(table))
        )


def _database_bytes(app) -> str:
    runtime = app.extensions["riskmgr"]
    path = runtime.engine.url.database
    runtime.engine.dispose()  # flush the WAL into the file
    data = b""
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(path + suffix, "rb") as fh:
                data += fh.read()
        except FileNotFoundError:
            continue
    return data.decode("latin-1")
