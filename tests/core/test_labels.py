"""Human words for machine names and numbers (riskmgr/core/labels.py), where the pages and the audit log use them."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import riskmgr.risk.rules as rules_package
from riskmgr.core.labels import (
    LIMIT_LABELS,
    RULE_LABELS,
    amount,
    human_duration,
    limit_label,
    price_at_tick,
    rule_label,
    sentence_time,
    when,
)
from riskmgr.risk.config import FIELDS
from riskmgr.risk.sizing import fmt_money


def test_every_risk_rule_has_a_human_label():
    names = {importlib.import_module(f"riskmgr.risk.rules.{m.name}").NAME
             for m in pkgutil.iter_modules(rules_package.__path__)}

    assert names - RULE_LABELS.keys() == set()
    assert all("_" not in RULE_LABELS[n] for n in names)


def test_every_risk_limit_has_a_human_label():
    assert {f.name for f in FIELDS} - LIMIT_LABELS.keys() == set()
    assert limit_label("risk_per_trade_pct") == "Risk per trade"


def test_an_unknown_rule_name_is_at_least_written_as_words():
    assert rule_label("max_leverage") == "Maximum leverage"
    assert rule_label("brand_new_rule") == "Brand new rule"


@pytest.mark.parametrize(("seconds", "said"), [
    (2.04351, "2.0 s"), (0.4, "0.4 s"), (31, "31 s"), (720, "12 min"), (3 * 3600 + 1800, "3.5 h"),
    (3 * 86400, "3.0 d"), (-1.25, "-1.2 s"),
])
def test_durations_are_said_like_a_person_would(seconds, said):
    assert human_duration(seconds) == said


def test_amounts_have_two_decimals_separators_and_a_unit():
    assert amount(Decimal("9997.42893073")) == "9,997.43 USDT"
    assert amount(Decimal("-0.001")) == "0.00 USDT"


def test_prices_have_the_places_of_the_markets_tick():
    assert price_at_tick(Decimal("0.523449"), Decimal("0.0001")) == "0.5234"
    assert price_at_tick(Decimal("50123.456"), Decimal("0.1")) == "50,123.5"
    assert price_at_tick(Decimal("1.5000"), None) == "1.5"


def test_money_in_reasons_has_two_decimals_unless_they_would_round_onto_a_whole_number():
    assert fmt_money(Decimal("9998.63713855")) == "9998.64"
    assert fmt_money(Decimal("4.996")) == "4.996"
    assert fmt_money(Decimal("0.00043384")) == "0.0004"
    assert fmt_money(Decimal("3.2")) == "3.20"


def test_times_in_sentences_use_the_one_date_format_not_iso():
    moment = datetime(2026, 12, 2, 14, 40, 53, tzinfo=UTC)

    assert sentence_time(moment) == "2026-12-02 14:40:53 UTC"
    assert when(moment, "UTC", now=datetime(2026, 12, 2, 20, 0, tzinfo=UTC)) == "14:40:53 UTC"
    assert when(moment, "UTC", now=datetime(2026, 12, 3, 0, 1, tzinfo=UTC)) == "2026-12-02 14:40:53 UTC"


def test_pages_receive_the_label_table(client):
    from tests.conftest import login

    login(client)
    html = client.get("/").get_data(as_text=True)

    assert 'id="rm-labels"' in html and '"max_leverage": "Maximum leverage"' in html.replace('":"', '": "')
