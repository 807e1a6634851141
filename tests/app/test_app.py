"""The factory and the paper account across a restart."""

from decimal import Decimal

import pytest

from riskmgr import create_app
from riskmgr.core.errors import ConfigError
from riskmgr.persistence.extensions import db
from tests.conftest import API_TOKEN, make_settings, sqlite_only

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _app(tmp_path, clock):
    app = create_app(make_settings(tmp_path, extra={"clock": clock}))
    with app.app_context():
        db.create_all()
    return app


def test_a_paper_position_survives_a_restart(tmp_path, clock):
    from riskmgr.accounts.monitor import poll_cycle

    first = _app(tmp_path, clock)
    poll_cycle(first.extensions["riskmgr"])  # the gate denies new risk until the account has been read
    mark = first.extensions["riskmgr"].market.ticker("ETH/USDT:USDT").mark
    order = {"account": "paper", "symbol": "ETH/USDT:USDT", "type": "market", "side": "buy", "qty": "0.05",
             "leverage": 2, "stop_loss": str(round(mark * Decimal("0.98"), 2)),
             "take_profit": str(round(mark * Decimal("1.05"), 2))}
    response = first.test_client().post("/api/orders", json=order, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    before = first.extensions["riskmgr"].accounts["paper"].fetch_positions()

    second = _app(tmp_path, clock)  # a new process on the same database
    after = second.extensions["riskmgr"].accounts["paper"].fetch_positions()
    assert [(p.symbol, p.side, p.size, p.entry_price) for p in after] == [
        (p.symbol, p.side, p.size, p.entry_price) for p in before
    ]
    assert after[0].size == Decimal("0.05")
    orders = second.extensions["riskmgr"].accounts["paper"].fetch_open_orders()
    assert sorted(o.type.value for o in orders) == ["stop_market", "take_profit_market"]


def test_factory_refuses_a_bad_environment_with_the_variable_named(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("POLL_SECONDS", "0")
    with pytest.raises(ConfigError, match="POLL_SECONDS"):
        create_app()


@sqlite_only("WAL is SQLite's journal mode")
def test_sqlite_runs_in_wal_mode(tmp_path, clock):
    app = _app(tmp_path, clock)
    with app.app_context():
        mode = db.session.execute(db.text("PRAGMA journal_mode")).scalar()
    assert mode == "wal"


def test_every_page_renders_for_the_logged_in_operator(tmp_path, clock):
    from tests.conftest import login

    app = _app(tmp_path, clock)
    from riskmgr.web.auth import ensure_admin_credentials

    ensure_admin_credentials(app)
    client = app.test_client()
    login(client)
    pages = [r.rule for r in app.url_map.iter_rules()
             if "GET" in r.methods and not r.arguments and not r.rule.startswith(("/api", "/static", "/metrics"))]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
