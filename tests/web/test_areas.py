"""The web layer declares its page areas in one typed list (riskmgr.web.areas.AREAS): the composition root checks it
and registers every area's blueprint, and the navigation bar is the areas' entries in order."""

from __future__ import annotations

import pytest
from flask import Blueprint

from riskmgr import create_app
from riskmgr.web import areas
from riskmgr.web.areas import AREAS, InvalidPageAreaError, PageArea, check, nav_items
from tests.conftest import make_settings

NAV_ORDER = [
    ("pages.dashboard", "Dashboard"), ("pages.trade", "Trade"), ("emergency.page", "Emergency"),
    ("risk.risk_page", "Risk"), ("risk.audit_page", "Audit"), ("accounts.page", "Accounts"),
    ("scanner.signals_page", "Signals"), ("backtest.page", "Backtests"), ("journal.page", "Journal"),
    ("alerts.page", "Alerts"),
]


def test_the_real_list_passes_the_check_and_names_every_area_once():
    check(AREAS)
    assert len({a.name for a in AREAS}) == len(AREAS)


def test_every_page_area_is_registered_with_its_own_blueprint_and_every_nav_entry_resolves(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    for area in AREAS:
        assert app.blueprints[area.blueprint.name] is area.blueprint, area.name
        assert all(endpoint in endpoints for endpoint, _ in area.nav), area.name


def test_the_navigation_bar_is_the_areas_entries_in_their_order(app):
    assert list(nav_items()) == NAV_ORDER
    assert list(app.jinja_env.globals["nav_items"]) == NAV_ORDER


def test_the_blueprint_names_the_templates_use_are_kept():
    names = [a.blueprint.name for a in AREAS]
    assert names == ["auth", "pages", "api", "emergency", "risk", "accounts", "controls", "scanner", "backtest",
                     "journal", "alerts", "metrics", "liveness"]


@pytest.mark.parametrize(("entry", "words"), [
    (PageArea("bad", "alerts"), "'bad': blueprint is a str, not a flask Blueprint"),
    (PageArea("bad", Blueprint("bad", __name__), (("bad.page",),)),
     "'bad': nav must be a tuple of (endpoint, label) pairs"),
    (PageArea("bad", Blueprint("bad", __name__), [("bad.page", "Bad")]),
     "'bad': nav must be a tuple"),
    (PageArea("bad", Blueprint("bad", __name__), (("alerts.page", "Alerts"),)),
     "'bad': nav must be a tuple of (endpoint, label) pairs of strings on its own blueprint 'bad'"),
    (areas, "'#14': AREAS entry is a module, not a PageArea"),
    (AREAS[-1], "'liveness': name or its blueprint is declared twice"),
])
def test_an_ill_typed_page_area_stops_the_app_at_start_up_naming_the_area_and_field(
        tmp_path, clock, monkeypatch, entry, words):
    monkeypatch.setattr(areas, "AREAS", (*AREAS, entry))

    with pytest.raises(InvalidPageAreaError) as exc:
        create_app(make_settings(tmp_path, extra={"clock": clock}))

    assert words in str(exc.value)
