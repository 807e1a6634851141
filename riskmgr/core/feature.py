"""What a feature declares (``Feature``) and the typed registry of what installed features publish (``Installed``).

A feature is one frozen ``Feature`` value, exported as ``FEATURE`` by its module and listed, in order, in
``riskmgr.app.features.FEATURES``. The composition root reads the typed fields, never module attributes: it calls
``install`` (which returns the objects the feature ``provides``, in that order), wires the declared
``entry_checks`` into the order gate and the declared ``rearm_guards`` into the trading state, runs the
``poll_hook``s after every poll, the ``jobs`` in the scheduler, and ``on_serve`` only from the server hooks. A
feature declares no page and no command: pages are the web layer's (``riskmgr.web.areas.AREAS``), commands the
app's (``riskmgr.app.cli.COMMANDS``), so no feature imports upwards. ``riskmgr.app.features.check`` refuses an
ill-typed declaration at start-up with an error naming the feature and the field.

The type lives here, at the bottom, so the feature modules import it downwards; the types it names (the runtime,
the snapshots) are annotations only, and the core still imports neither Flask nor the app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime
    from riskmgr.core.domain import AccountSnapshot, Verdict

T = TypeVar("T")

Job = tuple[str, float, Callable[[], None]]  # (job id, interval in seconds, function run inside the app context)
EntryCheck = Callable[[str], "Verdict | None"]  # account -> a denying verdict while new entries are not allowed
RearmGuard = Callable[[], "str | None"]  # -> why re-arming is refused now, or None


@dataclass(frozen=True)
class Feature:
    """One feature of the app: what it builds, serves, schedules and contributes, each hook typed.

    - ``name``: short and unique; the key of its settings (``Settings.feature(name)``) and of its errors.
    - ``install(runtime)``: build the long-lived objects and return them, one per type in ``provides`` and in that
      order; the composition root publishes them (``runtime.feature(SomeService)``). Nothing starts here.
    - ``jobs(runtime)``: its background jobs, run by the elected scheduler.
    - ``poll_hook(runtime, snapshots)``: run after every poll cycle, in feature order (the risk engine first).
    - ``on_serve(runtime)``: start its own background work in a serving process; called by the server hooks
      (``riskmgr.app.scheduler.serve``), never by ``create_app``.
    - ``settings_from_env(env)``: read and validate its own variables (``ConfigError`` naming the variable, the
      value and the range); called with ``{}`` for the defaults.
    - ``entry_checks(runtime)`` / ``rearm_guards(runtime)``: what the order gate asks before a new entry and what
      the trading state asks before a re-arm, built from the installed objects after every feature is installed.
    """

    name: str
    install: Callable[[Runtime], Sequence[object]] | None = None
    provides: tuple[type, ...] = ()
    jobs: Callable[[Runtime], Sequence[Job]] | None = None
    poll_hook: Callable[[Runtime, list[AccountSnapshot]], None] | None = None
    on_serve: Callable[[Runtime], None] | None = None
    settings_from_env: Callable[[Mapping[str, str]], object] | None = None
    entry_checks: Callable[[Runtime], Sequence[EntryCheck]] | None = None
    rearm_guards: Callable[[Runtime], Sequence[RearmGuard]] | None = None


class FeatureNotInstalledError(LookupError):
    """A feature's object was asked for but no installed feature provides it: a wiring mistake, fix FEATURES."""


class Installed:
    """The objects installed features publish, one per type, each returned as its own type."""

    def __init__(self) -> None:
        self._objects: dict[type, object] = {}
        self._providers: dict[type, str] = {}

    def put(self, kind: type[T], obj: T, *, by: str) -> None:
        """Publish ``obj`` as the ``kind`` of feature ``by``; a second provider of the same type is an error."""
        if kind in self._objects:
            raise ValueError(f"feature {by!r} provides {kind.__name__}, already provided by feature "
                             f"{self._providers[kind]!r}")
        self._objects[kind] = obj
        self._providers[kind] = by

    def replace(self, kind: type[T], obj: T) -> T:
        """Swap the installed ``kind`` for ``obj`` (a test double); return the one it replaces."""
        previous = self.get(kind)
        self._objects[kind] = obj
        return previous

    def get(self, kind: type[T]) -> T:
        """Return the installed ``kind``; raise ``FeatureNotInstalledError`` naming it when none is."""
        if kind not in self._objects:
            known = ", ".join(sorted(k.__name__ for k in self._objects)) or "nothing"
            raise FeatureNotInstalledError(
                f"{kind.__name__} is not installed: no feature in riskmgr.app.features.FEATURES provides it "
                f"(installed: {known})")
        return cast(T, self._objects[kind])

    def find(self, kind: type[T]) -> T | None:
        """Return the installed ``kind``, or None when no feature provides it."""
        return cast("T | None", self._objects.get(kind))

    def provider(self, kind: type) -> str | None:
        """Return the name of the feature that provides ``kind``, if any."""
        return self._providers.get(kind)

    def __contains__(self, kind: Any) -> bool:
        return kind in self._objects
