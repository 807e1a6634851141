"""Honest figures in the JSON the pages read: Bitunix's inferred equity carries an "estimated" flag with its
formula from the adapter through the stored snapshot to /api/snapshot; the equity answer says where gaps begin."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import responses

from riskmgr.core.clock import FixedClock
from riskmgr.core.domain import AccountSnapshot, AccountStatus
from riskmgr.exchanges.bitunix.adapter import BitunixAdapter
from riskmgr.exchanges.bitunix.client import BitunixClient
from riskmgr.exchanges.bitunix.parse import EQUITY_FORMULA
from tests.exchanges.bitunix.conftest import API_KEY, BASE, NONCE, NOW, SECRET, reply

ACCOUNT_URL = f"{BASE}/api/v1/futures/account"


def _bitunix_balance():
    clock = FixedClock(NOW)
    client = BitunixClient(API_KEY, SECRET, clock=clock, nonce_factory=lambda: NONCE, account="main")
    with responses.RequestsMock() as mock:
        mock.get(ACCOUNT_URL, json=reply("account_list"))  # the documented answer: no equity field
        return BitunixAdapter("main", client, clock=clock).fetch_balance()


def test_the_bitunix_adapter_marks_its_equity_as_an_inferred_sum():
    balance = _bitunix_balance()

    assert balance.equity_formula == EQUITY_FORMULA
    assert "available + frozen + margin" in balance.equity_formula


def test_the_snapshot_api_flags_bitunix_equity_as_estimated_with_the_formula(api, runtime, clock):
    snap = AccountSnapshot(account="paper", exchange="bitunix", mode="live", status=AccountStatus.OK,
                           attempted_at=clock.now(), fetched_at=clock.now(), balance=_bitunix_balance())
    runtime.snapshots.save([snap])

    body = api.get("/api/snapshot").get_json()

    [account] = body["accounts"]
    assert account["equity_estimated"] is True and account["equity_formula"] == EQUITY_FORMULA
    assert body["totals"]["estimated_accounts"] == ["paper"]


def test_a_venue_that_reports_equity_is_not_flagged(api, runtime, clock):
    balance = dataclasses.replace(_bitunix_balance(), equity_formula=None)
    runtime.snapshots.save([AccountSnapshot(account="paper", exchange="bitget", mode="live", status=AccountStatus.OK,
                                            attempted_at=clock.now(), fetched_at=clock.now(), balance=balance)])

    account = api.get("/api/snapshot").get_json()["accounts"][0]

    assert account["equity_estimated"] is False and account["equity_formula"] is None
    assert api.get("/api/snapshot").get_json()["totals"]["estimated_accounts"] == []


def test_the_equity_answer_says_beyond_which_spacing_the_chart_breaks_its_line(api, runtime, clock):
    since = (clock.now() - timedelta(minutes=30)).isoformat()
    raw = api.get("/api/equity", query_string={"account": "paper", "since": since}).get_json()
    day = api.get("/api/equity?account=paper").get_json()  # 24 h: last reading per minute

    assert raw["gap_seconds"] == 3 * runtime.settings.poll_seconds  # three polls missed
    assert (day["resolution_seconds"], day["gap_seconds"]) == (60, 180)  # three buckets without a reading


def test_the_accounts_api_carries_the_estimated_flag_too(api, runtime, clock):
    runtime.snapshots.save([AccountSnapshot(account="paper", exchange="bitunix", mode="live", status=AccountStatus.OK,
                                            attempted_at=clock.now(), fetched_at=clock.now(),
                                            balance=_bitunix_balance())])

    [account] = api.get("/api/accounts").get_json()["accounts"]

    assert account["equity_estimated"] is True and account["equity_formula"] == EQUITY_FORMULA
