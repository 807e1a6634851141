"""The page areas of the web layer, in navigation order: each one blueprint (its pages and API routes) and the
navigation entries it adds. The composition root checks the list (``check``) and registers it (``register``).

Each area is one module of ``riskmgr.web`` named by what the user sees; the features below do not know about them
(``riskmgr.core.feature.Feature`` declares no page). The navigation bar is every area's entries in this order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import Blueprint, Flask

from riskmgr.web import (
    accounts,
    alerts,
    api,
    auth,
    backtests,
    controls,
    emergency,
    journal,
    liveness,
    metrics,
    pages,
    risk,
    signals,
)

NavItem = tuple[str, str]  # (endpoint, label) of a navigation bar entry


@dataclass(frozen=True)
class PageArea:
    """One page area: its name (for errors), its blueprint and the navigation entries it adds, in order."""

    name: str
    blueprint: Blueprint
    nav: tuple[NavItem, ...] = ()


AREAS: tuple[PageArea, ...] = (
    PageArea("login", auth.bp),  # /login, /logout
    PageArea("dashboard", pages.bp, pages.NAV),  # /, /trade, /health
    PageArea("api", api.bp),  # the dashboard's and the trade ticket's API
    PageArea("emergency", emergency.bp, emergency.NAV),
    PageArea("risk", risk.bp, risk.NAV),  # the Risk and Audit pages
    PageArea("accounts", accounts.bp, accounts.NAV),
    PageArea("controls", controls.bp),  # position controls and account switches (API only)
    PageArea("signals", signals.bp, signals.NAV),
    PageArea("backtests", backtests.bp, backtests.NAV),
    PageArea("journal", journal.bp, journal.NAV),
    PageArea("alerts", alerts.bp, alerts.NAV),
    PageArea("metrics", metrics.bp),  # /metrics
    PageArea("liveness", liveness.bp),  # /api/liveness
)


class InvalidPageAreaError(TypeError):
    """A page area's declaration is ill-typed: the app refuses to start, naming the area and the field."""

    def __init__(self, area: str, field: str, problem: str):
        super().__init__(f"page area {area!r}: {field} {problem}")
        self.area = area
        self.field = field


def check(areas: Sequence[PageArea] | None = None) -> None:
    """Refuse an entry that is not a ``PageArea``, a blueprint that is not a Flask ``Blueprint``, navigation entries
    that are not (endpoint, label) pairs of strings on the area's own blueprint, and a name or blueprint used twice."""
    areas = AREAS if areas is None else areas
    names: set[str] = set()
    blueprints: set[str] = set()
    for i, area in enumerate(areas):
        if not isinstance(area, PageArea):
            raise InvalidPageAreaError(f"#{i + 1}", "AREAS entry", f"is a {type(area).__name__}, not a PageArea")
        if not isinstance(area.blueprint, Blueprint):
            raise InvalidPageAreaError(area.name, "blueprint",
                                       f"is a {type(area.blueprint).__name__}, not a flask Blueprint")
        _check_nav(area)
        if area.name in names or area.blueprint.name in blueprints:
            raise InvalidPageAreaError(area.name, "name", "or its blueprint is declared twice in AREAS")
        names.add(area.name)
        blueprints.add(area.blueprint.name)


def _check_nav(area: PageArea) -> None:
    ok = isinstance(area.nav, tuple) and all(
        isinstance(item, tuple) and len(item) == 2 and all(isinstance(part, str) for part in item)
        and item[0].startswith(f"{area.blueprint.name}.") for item in area.nav)
    if not ok:
        raise InvalidPageAreaError(area.name, "nav", "must be a tuple of (endpoint, label) pairs of strings on its "
                                   f"own blueprint {area.blueprint.name!r}; it is {area.nav!r}")


def nav_items(areas: Sequence[PageArea] | None = None) -> tuple[NavItem, ...]:
    """Return the navigation bar: every area's entries, in area order."""
    areas = AREAS if areas is None else areas
    return tuple(item for area in areas for item in area.nav)


def register(app: Flask, areas: Sequence[PageArea] | None = None) -> None:
    """Check the areas, register their blueprints in order and give every page the navigation bar."""
    areas = AREAS if areas is None else areas
    check(areas)
    for area in areas:
        app.register_blueprint(area.blueprint)
    app.jinja_env.globals["nav_items"] = nav_items(areas)
