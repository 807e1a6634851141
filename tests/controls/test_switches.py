"""Per-account switches: pause new entries and auto-trading, persisted, audited, shown, and obeyed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmgr import create_app
from riskmgr.accounts.monitor import poll_cycle
from riskmgr.controls.service import switch_notes, switches, switches_view
from riskmgr.persistence.extensions import db
from riskmgr.scanner.auto import policies
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.feature import ScannerSettings
from riskmgr.scanner.models import SignalDecision
from tests.conftest import make_settings


def test_a_pause_survives_a_restart_of_the_app(tmp_path, clock):
    settings = make_settings(tmp_path, extra={"clock": clock})
    first = create_app(settings)
    with first.app_context():
        db.create_all()
    switches(first.extensions["riskmgr"]).set_paused("paper", True, reason="news at 14:30", by="test")

    second = create_app(settings)

    state = switches(second.extensions["riskmgr"]).get("paper")
    assert state.entries_paused and state.entries_reason == "news at 14:30" and state.entries_changed_by == "test"


def test_auto_trading_switched_off_overrides_auto_trade_paper_and_says_who_and_why(runtime):
    switches(runtime).set_auto_trading("paper", False, reason="watching only", by="operator")

    (policy,) = policies(runtime, ScannerSettings())

    assert not policy.enabled
    assert "switched off for this account by operator" in policy.reason and "watching only" in policy.reason
    (event,) = runtime.audit.query(kind="account.auto_trading")
    assert event["account"] == "paper" and "switched off" in event["message"]


def test_auto_trading_switched_on_overrides_auto_trade_paper_false(runtime):
    switches(runtime).set_auto_trading("paper", True, reason="", by="operator")

    (policy,) = policies(runtime, ScannerSettings(auto_trade_paper=False))

    assert policy.enabled and "switched on" in policy.reason


def test_auto_trading_back_to_default_follows_the_configuration_again(runtime):
    switches(runtime).set_auto_trading("paper", False, reason="", by="operator")
    switches(runtime).set_auto_trading("paper", None, reason="", by="operator")

    (policy,) = policies(runtime, ScannerSettings())

    assert policy.enabled and policy.reason == "on"


def test_the_scanner_takes_no_entry_for_an_account_whose_auto_trading_is_off(runtime, clock):
    from datetime import UTC, datetime

    clock.set(datetime(2026, 11, 26, 4, 0, tzinfo=UTC))  # signals on the simulated market at this bar close
    switches(runtime).set_auto_trading("paper", False, reason="", by="operator")
    poll_cycle(runtime)

    view = runtime.feature(Scanner).scan(trigger="schedule", auto_trade=True)

    assert view["signals"], "the scan must see signals for this test to mean anything"
    with Session(runtime.engine) as session:
        assert list(session.scalars(select(SignalDecision))) == []
    assert runtime.accounts["paper"].fetch_positions() == []


def test_the_banner_notes_name_paused_entries_and_auto_trading_off_per_account(runtime):
    assert switch_notes(runtime) == ["auto-trading ON on paper"]  # the default for paper: said on every page

    switches(runtime).set_paused("paper", True, reason="", by="t")
    switches(runtime).set_auto_trading("paper", False, reason="", by="t")

    assert switch_notes(runtime) == ["new entries PAUSED on paper", "auto-trading OFF on paper"]
    (view,) = switches_view(runtime)
    assert view["entries_paused"] and view["auto_trading"] is False and view["auto_trading_switch"] == "off"
