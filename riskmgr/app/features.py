"""The features the app is assembled from, in order, and how the composition root wires their declarations.

Each feature module exports one ``FEATURE = Feature(...)`` (``riskmgr.core.feature.Feature``: typed hooks, what it
provides and contributes). ``FEATURES`` lists them; the order is declared here and checked at start-up (``check``):
the risk engine comes first, so its poll hook grades every account before any other hook acts on the poll (the
others' hooks, entry checks and re-arm guards run in the order listed). ``create_app`` calls ``check`` then
``install``; the scheduler reads ``jobs``, the poll ``poll_hooks`` and the server hooks ``on_serve_hooks``. None of
them looks an attribute up on a module. Pages are not features' business: the web layer declares its page areas
(``riskmgr.web.areas``) and the CLI its commands (``riskmgr.app.cli``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from riskmgr.accounts.feature import FEATURE as WATCHDOG
from riskmgr.accounts.liveness import FEATURE as LIVENESS
from riskmgr.alerts.feature import FEATURE as ALERTS
from riskmgr.backtest.service import FEATURE as BACKTEST
from riskmgr.controls.feature import FEATURE as CONTROLS
from riskmgr.core.feature import Feature, FeatureNotInstalledError, Installed, Job
from riskmgr.exchanges.paper.notices import FEATURE as PAPER_NOTICES
from riskmgr.journal.feature import FEATURE as JOURNAL
from riskmgr.metrics.prometheus import FEATURE as METRICS
from riskmgr.risk.emergency.feature import FEATURE as EMERGENCY
from riskmgr.risk.engine import FEATURE as RISK_ENGINE
from riskmgr.scanner.feature import FEATURE as SCANNER

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime
    from riskmgr.core.domain import AccountSnapshot

__all__ = ["FEATURES", "Feature", "FeatureNotInstalledError", "Installed", "InvalidFeatureError", "by_name",
           "check", "install", "jobs", "on_serve_hooks", "poll_hooks"]

FEATURES: tuple[Feature, ...] = (
    RISK_ENGINE,  # account tiers, trading state, position monitor (issue: risk engine)
    EMERGENCY,  # the emergency stop sequence: its service, re-arm guard and resume job
    WATCHDOG,  # exchange-side stop-loss watchdog
    PAPER_NOTICES,  # paper liquidations: one audit event and one alert each
    CONTROLS,  # position controls (move stop, partial close, cancel one order), pause / auto-trading
    SCANNER,  # candle store, signal scanner, Signals page, auto-trading
    BACKTEST,  # backtests: engine service, page, API, CLI
    JOURNAL,  # trade journal: closed trades page, /api/trades (JSON, CSV), flask trades
    ALERTS,  # Telegram / e-mail alerts and the Alerts page
    METRICS,  # Prometheus /metrics
    LIVENESS,  # the poller's heartbeat, a stopped poller as an alert, GET /api/liveness
)
FIRST = "risk"  # the risk engine: its poll hook runs before every other feature's

PollHook = Callable[["Runtime", "list[AccountSnapshot]"], None]


class InvalidFeatureError(TypeError):
    """A feature's declaration is ill-typed or out of order: the app refuses to start, naming feature and field."""

    def __init__(self, feature: str, field: str, problem: str):
        super().__init__(f"feature {feature!r}: {field} {problem}")
        self.feature = feature
        self.field = field


# -- start-up checks ---------------------------------------------------------------------------------------------
def check(features: Sequence[Feature] | None = None) -> None:
    """Refuse ill-typed declarations and a wrong order with an ``InvalidFeatureError`` naming feature and field."""
    features = FEATURES if features is None else features
    seen: list[str] = []
    for i, feature in enumerate(features):
        if not isinstance(feature, Feature):
            raise InvalidFeatureError(f"#{i + 1}", "FEATURES entry", f"is a {type(feature).__name__}, not a Feature")
        _check_one(feature)
        if feature.name in seen:
            raise InvalidFeatureError(feature.name, "name", "is declared twice in FEATURES")
        if i == 0 and feature.name != FIRST:
            raise InvalidFeatureError(feature.name, "order", f"comes first; the {FIRST!r} feature must (its poll "
                                      "hook grades the accounts before any other acts on the poll)")
        seen.append(feature.name)
    if not seen:
        raise InvalidFeatureError(FIRST, "FEATURES", "is empty; the risk engine at least must be listed")


def _check_one(f: Feature) -> None:
    if not isinstance(f.name, str) or not f.name.strip():
        raise InvalidFeatureError(repr(f.name), "name", "must be a non-empty string")
    for field, hook, arity in _hooks(f):
        _check_hook(f.name, field, hook, arity)
    _check_tuple(f.name, "provides", f.provides, inspect.isclass, "classes")
    if f.provides and f.install is None:
        raise InvalidFeatureError(f.name, "provides", "names what it provides but the feature has no install")


def _hooks(f: Feature) -> list[tuple[str, Any, int]]:
    """Return (field, hook, how many positional arguments it is called with) for every hook of ``f``."""
    return [("install", f.install, 1), ("jobs", f.jobs, 1), ("poll_hook", f.poll_hook, 2), ("on_serve", f.on_serve, 1),
            ("settings_from_env", f.settings_from_env, 1), ("entry_checks", f.entry_checks, 1),
            ("rearm_guards", f.rearm_guards, 1)]


def _check_hook(feature: str, field: str, hook: Any, arity: int) -> None:
    if hook is None:
        return
    if not callable(hook):
        raise InvalidFeatureError(feature, field, f"is a {type(hook).__name__}, not a function")
    try:
        inspect.signature(hook).bind(*range(arity))
    except TypeError:
        raise InvalidFeatureError(feature, field, f"must take {arity} positional argument(s); it is "
                                  f"{getattr(hook, '__name__', hook)}{inspect.signature(hook)}") from None
    except ValueError:  # no signature to read (a builtin): called as declared, its own error says what is wrong
        return


def _check_tuple(feature: str, field: str, value: Any, ok: Callable[[Any], bool], what: str) -> None:
    if not isinstance(value, tuple) or not all(ok(item) for item in value):
        raise InvalidFeatureError(feature, field, f"must be a tuple of {what}; it is {value!r}")


# -- wiring ------------------------------------------------------------------------------------------------------
def install(runtime: Runtime, features: Sequence[Feature] | None = None) -> None:
    """Install every feature in order and publish what each provides; then wire the declared entry checks into the
    order gate and the re-arm guards into the trading state, in feature order."""
    features = FEATURES if features is None else features
    for feature in features:
        if feature.install is not None:
            _publish(runtime.features, feature, feature.install(runtime))
    for feature in features:
        for entry_check in _functions(feature, "entry_checks", feature.entry_checks(runtime)
                                      if feature.entry_checks else (), 1):
            runtime.gateway.add_entry_check(entry_check)
        for guard in _functions(feature, "rearm_guards", feature.rearm_guards(runtime)
                                if feature.rearm_guards else (), 0):
            runtime.trading.add_rearm_guard(guard)


def _functions(feature: Feature, field: str, made: Iterable[Any], arity: int) -> list[Any]:
    """Return what ``field`` built, each checked to be a function of ``arity`` positional arguments."""
    made = list(made)
    for i, fn in enumerate(made):
        _check_hook(feature.name, f"{field}[{i}]", fn, arity)
    return made


def _publish(installed: Installed, feature: Feature, objects: Iterable[object]) -> None:
    objects = tuple(objects)
    if len(objects) != len(feature.provides):
        raise InvalidFeatureError(feature.name, "install", f"returned {len(objects)} object(s) for the "
                                  f"{len(feature.provides)} it provides ({_names(feature.provides)})")
    for kind, obj in zip(feature.provides, objects, strict=True):
        if not isinstance(obj, kind):
            raise InvalidFeatureError(feature.name, "install", f"returned a {type(obj).__name__} where it provides "
                                      f"a {kind.__name__}")
        installed.put(kind, obj, by=feature.name)


def _names(kinds: Iterable[type]) -> str:
    return ", ".join(k.__name__ for k in kinds) or "nothing"


# -- what the app reads ------------------------------------------------------------------------------------------
def by_name(name: str) -> Feature:
    """Return the feature called ``name``; an unknown name is a LookupError listing the known ones."""
    for feature in FEATURES:
        if feature.name == name:
            return feature
    raise LookupError(f"no feature is called {name!r}; known: {', '.join(f.name for f in FEATURES)}")


def poll_hooks() -> list[PollHook]:
    """Return the features' poll hooks in order (the risk engine first)."""
    return [f.poll_hook for f in FEATURES if f.poll_hook is not None]


def jobs(runtime: Runtime) -> list[Job]:
    """Return every feature's background jobs, in feature order."""
    return [job for f in FEATURES if f.jobs is not None for job in f.jobs(runtime)]


def on_serve_hooks() -> list[Callable[[Runtime], None]]:
    """Return the features' server hooks in order."""
    return [f.on_serve for f in FEATURES if f.on_serve is not None]

