"""The banner on every page: the trading state and the account switches, fresh on every page, from one select."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from riskmgr.controls.models import AccountControl
from riskmgr.controls.service import banner, switches, switches_view
from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import TradingState
from riskmgr.persistence.audit import AuditLog
from riskmgr.persistence.extensions import db
from riskmgr.risk.trading_state import TradingStateStore
from tests.conftest import database_url, login, make_engine


def _banner_html(client) -> str:
    page = client.get("/").get_data(as_text=True)
    start = page.index('id="state-banner"')
    return page[start:page.index("</div>", start)]


def test_a_cached_page_reads_the_database_once_for_its_whole_banner(app, client, runtime):
    login(client)
    client.get("/")  # the shell is now cached
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engines = {runtime.engine}
    with app.app_context():
        engines.add(db.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/").status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)

    assert len(statements) == 1, statements
    assert "trading_state" in statements[0] and "account_control" in statements[0]


def test_pausing_entries_shows_on_the_very_next_page_and_resuming_clears_it(client, runtime):
    login(client)
    assert "new entries PAUSED" not in _banner_html(client)

    switches(runtime).set_paused("paper", True, reason="news at 14:00", by="operator")
    assert "new entries PAUSED on paper" in _banner_html(client)

    switches(runtime).set_paused("paper", False, reason="", by="operator")
    assert "new entries PAUSED" not in _banner_html(client)


def test_switching_auto_trading_off_shows_on_the_very_next_page(client, runtime):
    login(client)
    assert "auto-trading ON on paper" in _banner_html(client)

    switches(runtime).set_auto_trading("paper", False, reason="", by="operator")

    html = _banner_html(client)
    assert "auto-trading OFF on paper" in html and "auto-trading ON" not in html


def test_a_state_change_and_a_switch_change_show_together(client, runtime):
    login(client)
    runtime.trading.escalate(TradingState.REDUCING, "drawdown tier", by="risk")
    switches(runtime).set_paused("paper", True, reason="", by="operator")

    html = _banner_html(client)

    assert 'data-state="REDUCING"' in html and "drawdown tier" in html and "new entries PAUSED on paper" in html


def test_the_banner_read_gives_the_state_and_every_switch_row(runtime):
    status, notes = banner(runtime)
    assert status.state is TradingState.ACTIVE and notes == ["auto-trading ON on paper"]

    switches(runtime).set_paused("paper", True, reason="", by="operator")
    status, rows = runtime.trading.current_with(AccountControl.__table__)

    assert status.state is TradingState.ACTIVE
    assert [(r.account, r.entries_paused) for r in rows] == [("paper", True)]


def test_the_banner_read_on_a_schema_without_the_state_row_creates_it(tmp_path):
    engine = make_engine(database_url(tmp_path, "fresh"))
    db.metadata.create_all(engine)
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    store = TradingStateStore(engine, clock, AuditLog(engine, clock))

    status, rows = store.current_with(AccountControl.__table__)

    assert status.state is TradingState.ACTIVE and rows == []
    assert store.current_with(AccountControl.__table__)[0] == status  # now read from the row itself
    engine.dispose()


def test_the_banner_notes_say_what_the_switches_view_says_for_every_combination(runtime):
    for paused in (False, True):
        for auto in (None, True, False):
            switches(runtime).set_paused("paper", paused, reason="", by="t")
            switches(runtime).set_auto_trading("paper", auto, reason="", by="t")
            (view,) = switches_view(runtime)
            expected = (["auto-trading ON on paper"] if view["auto_trading"] else []) + (
                ["new entries PAUSED on paper"] if view["entries_paused"] else []) + (
                ["auto-trading OFF on paper"] if view["auto_trading_switch"] == "off" else [])

            assert banner(runtime)[1] == expected, (paused, auto)
