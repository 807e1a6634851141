"""The stop-loss watchdog (its Accounts page, API and self-test button are in ``web.accounts``, its CLI in
``app.cli.exchanges``).

Every poll cycle, for every position on every account read successfully (positions opened by hand included),
the watchdog checks that an exchange-side stop-loss rests for the full size, and a take-profit when
``WATCHDOG_REQUIRE_TAKE_PROFIT`` is on. A missing one is placed through the order gate at the plan recorded
at entry, else at the default distance from the entry price. Its intent id is derived from the position, the
unprotected episode and the levels, so two racing cycles send it once. An accepted placement the venue does not
list yet is *pending*: no cycle sends it again until it is confirmed missing for ``WATCHDOG_PENDING_GRACE_SECONDS``
(looked up by its client id among the open orders read), and then it is re-placed once. A stop the mark has already
crossed is never placed: that is escalated. A rejection is retried next cycle, alerted, and after
``WATCHDOG_ESCALATE_AFTER`` failures escalated per ``RiskLimits.unprotected_policy`` (alert, REDUCING, close).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from riskmgr.accounts.watchdog_store import Episode, Observation, Read, Sighting, WatchedPosition, WatchStore
from riskmgr.core.domain import AccountSnapshot, AccountStatus, Order, Position, PositionSide, Protection, TradingState
from riskmgr.core.env import read_bool, read_decimal, read_int
from riskmgr.core.errors import ConfigError, ExchangeError, ValidationError
from riskmgr.risk.gateway import GatewayResult
from riskmgr.risk.protection import by_symbol, find_protection
from riskmgr.risk.sizing import fmt_number as fmt
from riskmgr.risk.sizing import round_to_tick

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "watchdog"
DEFAULT_SELFTEST_SYMBOL = "BTC/USDT:USDT"
UNIFIED_SYMBOL = re.compile(r"^[A-Z0-9]+/[A-Z0-9]+:[A-Z0-9]+$")


@dataclass(frozen=True)
class WatchdogSettings:
    require_take_profit: bool = False
    escalate_after: int = 3
    selftest_symbol: str = DEFAULT_SELFTEST_SYMBOL
    selftest_distance_pct: Decimal = Decimal(4)
    pending_grace_seconds: int = 30


def settings_from_env(env: Mapping[str, str]) -> WatchdogSettings:
    """Read the watchdog and self-test settings; raise ConfigError naming the variable and the range."""
    symbol = (env.get("SELFTEST_SYMBOL") or "").strip() or DEFAULT_SELFTEST_SYMBOL
    if not UNIFIED_SYMBOL.match(symbol):
        raise ConfigError(f"SELFTEST_SYMBOL={symbol!r} is not a unified perpetual symbol such as BTC/USDT:USDT")
    return WatchdogSettings(
        require_take_profit=read_bool(env, "WATCHDOG_REQUIRE_TAKE_PROFIT", False),
        escalate_after=read_int(env, "WATCHDOG_ESCALATE_AFTER", 3, 1, 100),
        selftest_symbol=symbol,
        selftest_distance_pct=read_decimal(env, "SELFTEST_DISTANCE_PCT", "4", "0.5", "50"),
        pending_grace_seconds=read_int(env, "WATCHDOG_PENDING_GRACE_SECONDS", 30, 5, 3600),
    )


def position_identity(position: Position) -> str:
    """Return what tells this position apart from a later one on the same key (``Position.identity``)."""
    return position.identity


def missing_legs(protection: Protection, require_take_profit: bool) -> tuple[bool, bool, str]:
    """Return (stop needed, target needed, description) for a position's resting protection."""
    stop = not protection.stop_covers_full_size
    target = require_take_profit and protection.take_profit is None
    parts = []
    if stop:
        parts.append("stop-loss" if protection.stop_loss is None else "full-size stop-loss")
    if target:
        parts.append("take-profit")
    return stop, target, " and ".join(parts)


def pending_levels(stop: Decimal | None, target: Decimal | None) -> str:
    """Return how a placement's legs are remembered while pending (``sl=49250 tp=-``)."""
    return " ".join(f"{leg}={'-' if price is None else format(price.normalize(), 'f')}"
                    for leg, price in (("sl", stop), ("tp", target)))


def _listed(client_id: str, legs: str, orders: Iterable[Order]) -> bool:
    """Return whether every leg placed under ``client_id`` is among the open orders (legs may carry -sl / -tp)."""
    ids = {o.client_id for o in orders if o.client_id and o.status.is_open}
    wanted = [leg for leg in ("sl", "tp") if f"{leg}=" in legs and f"{leg}=-" not in legs]
    return bool(wanted) and all(client_id in ids or f"{client_id}-{leg}" in ids for leg in wanted)


def _offset(position: Position, pct: Decimal) -> Decimal:
    """Return the price ``pct`` % from the entry in the position's favour (negative: against it)."""
    return position.entry_price * (1 + position.side.sign * pct / 100)


class ProtectionWatchdog:
    """Keep an exchange-side stop-loss on every position; state and counts live in the database."""

    def __init__(self, runtime: Runtime, settings: WatchdogSettings):
        self.runtime = runtime
        self.settings = settings
        self.store = WatchStore(runtime.engine)

    # -- the cycle ---------------------------------------------------------------------------------
    def check(self, snapshots: list[AccountSnapshot]) -> None:
        """Check every position of every account read successfully in this cycle.

        What was seen is written in one transaction for the whole cycle; only positions lacking protection cost
        more (their placements, each its own short transaction).
        """
        good = [s for s in snapshots if s.status is AccountStatus.OK and s.fetched_at is not None]
        if not good:
            return
        legs = {snap.account: self._legs(snap) for snap in good}
        observed = self.store.observe_accounts({snap.account: self._read(snap, legs[snap.account]) for snap in good})
        for snap in good:
            self._check_account(snap, legs[snap.account], *observed[snap.account])

    def check_account(self, snap: AccountSnapshot) -> None:
        """Check one account's positions against its resting orders; forget positions that are gone."""
        legs = self._legs(snap)
        observed = self.store.observe_accounts({snap.account: self._read(snap, legs)})
        self._check_account(snap, legs, *observed[snap.account])

    def _legs(self, snap: AccountSnapshot) -> list[tuple[bool, bool, str]]:
        orders = by_symbol(snap.orders)
        return [missing_legs(find_protection(p, orders.get(p.symbol, ())), self.settings.require_take_profit)
                for p in snap.positions]

    @staticmethod
    def _read(snap: AccountSnapshot, legs: list[tuple[bool, bool, str]]) -> Read:
        now: datetime = snap.fetched_at or snap.attempted_at  # only successful reads get here: fetched_at is set
        return Read(now, [Sighting(p.symbol, p.side.value, position_identity(p), missing if (stop or target) else None)
                          for p, (stop, target, missing) in zip(snap.positions, legs, strict=True)])

    def _check_account(self, snap: AccountSnapshot, legs: list[tuple[bool, bool, str]],
                       cleared: list[WatchedPosition], observations: list[Observation]) -> None:
        now: datetime = snap.fetched_at or snap.attempted_at
        for row in cleared:
            self.runtime.audit.record("watchdog.cleared", ACTOR, f"the {row.side} {row.symbol} closed while its "
                                      f"{row.missing} was missing", account=snap.account)
        for position, (stop, target, missing), seen in zip(snap.positions, legs, observations, strict=True):
            self._announce(snap, position, seen, now)
            if seen.episode is None:
                continue
            if self.store.in_flight(snap.account, position.symbol, snap.attempted_at):
                log.info("%s %s: an order was sent after the read began; checking again next cycle",
                         snap.account, position.symbol)
                self.store.count("deferred")
                continue
            episode = self._unless_pending(snap, position, seen.episode)
            if episode is None:
                continue
            try:
                self._restore(snap, position, episode, stop, target)
            except (ExchangeError, ValidationError) as exc:  # e.g. the contract spec could not be read
                detail = exc.describe() if isinstance(exc, ExchangeError) else str(exc)
                self._record(snap, position, seen.episode, None, f"could not prepare the {missing}: {detail}")

    def _announce(self, snap: AccountSnapshot, position: Position, seen: Observation, now: datetime) -> None:
        what = f"{position.side.value} {fmt(position.size)} {position.symbol} (entry {fmt(position.entry_price)})"
        if seen.started and seen.episode is not None:
            message = f"the {what} has no exchange-side {seen.episode.missing}"
            data = {"symbol": position.symbol, "side": position.side.value, "missing": seen.episode.missing}
            self.runtime.audit.record("watchdog.missing", ACTOR, message, account=snap.account, data=data)
            self.runtime.events.emit("protection.missing", f"{snap.account}: {message}", account=snap.account,
                                     data=data)
        if seen.ended_since is not None:
            seconds = round((now - seen.ended_since).total_seconds())
            self.runtime.audit.record("watchdog.protected", ACTOR, f"the {what} is protected again after "
                                      f"{seconds} s without its {seen.ended_missing}", account=snap.account)

    # -- a placement awaiting its listing ------------------------------------------------------------
    def _unless_pending(self, snap: AccountSnapshot, position: Position, episode: Episode) -> Episode | None:
        """Return the episode to place for, or None while its accepted placement may still be listed.

        Within the grace period nothing is sent. Past it, a placement listed under its client id is on the venue
        (it is not sent again: escalated, since it still does not protect the position); one not listed is given
        up as lost and placed once more under a new intent.
        """
        cid = episode.pending_client_id
        if cid is None or episode.pending_at is None:
            return episode
        waited = (snap.attempted_at - episode.pending_at).total_seconds()  # the read began this long after
        listed = _listed(cid, episode.pending_levels or "", snap.orders)
        if waited < self.settings.pending_grace_seconds:
            log.info("%s %s: %s placed as %s %.0f s ago is %s; not sent again", snap.account, position.symbol,
                     episode.pending_levels, cid, waited, "listed" if listed else "not listed yet")
            return None
        what = f"{position.side.value} {position.symbol}"
        if listed:
            self._escalate(snap, position, episode, f"the {episode.missing} placed as {cid} is listed but the "
                                                   f"{what} still lacks it after {waited:.0f} s")
            return None
        message = (f"{episode.pending_levels} accepted as {cid} was still not listed after {waited:.0f} s "
                   f"(grace {self.settings.pending_grace_seconds} s); placing it again")
        resends = self.store.drop_pending(episode, message)
        if resends is None:  # another process gave it up first and re-places it
            return None
        self.runtime.audit.record("watchdog.lost", ACTOR, f"{what}: {message}", account=snap.account,
                                  data={"symbol": position.symbol, "side": position.side.value, "client_id": cid})
        return replace(episode, pending_client_id=None, pending_at=None, pending_levels=None, resends=resends)

    # -- placing -----------------------------------------------------------------------------------
    def _restore(self, snap: AccountSnapshot, position: Position, episode: Episode, need_stop: bool,
                 need_target: bool) -> None:
        limits = self.runtime.limits()
        tick = self.runtime.gateway.spec(snap.account, position.symbol).price_tick
        planned_stop, planned_target, source = self.store.plan(snap.account, position.symbol, position.side,
                                                               episode.flat_since)
        long, mark = position.side is PositionSide.LONG, position.mark_price
        stop = target = None
        if need_stop:
            stop = round_to_tick(planned_stop or _offset(position, -limits.default_stop_pct), tick, up=long)
            if (stop >= mark) if long else (stop <= mark):
                self._wrong_side(snap, position, episode, stop)
                return
        if need_target:
            target = round_to_tick(planned_target or _offset(position, limits.default_target_pct), tick, up=not long)
            if (target <= mark) if long else (target >= mark):
                log.info("%s %s: the target %s is already passed by the mark %s; not placed",
                         snap.account, position.symbol, target, mark)
                target = None
        if stop is None and target is None:
            return
        result = self.runtime.gateway.protect(
            snap.account, position.symbol, position.side, stop_loss=stop, take_profit=target, actor=ACTOR,
            intent_id=episode.protect_intent_id(stop, target), purpose="watchdog",
            # a stop that covers part of the position is replaced, so one stop covers it all
            replace_existing="full-size" in (episode.missing or ""),
        )
        levels = ", ".join(f"{name} {fmt(price)}" for name, price in (("stop", stop), ("target", target)) if price)
        if result.duplicate:  # a racing cycle sent this very intent; its outcome is recorded there
            log.info("%s %s: %s already sent (%s)", snap.account, position.symbol, levels, result.message)
            return
        self._record(snap, position, episode, result, f"{levels} ({source})", pending_levels(stop, target))

    def _record(self, snap: AccountSnapshot, position: Position, episode: Episode, result: GatewayResult | None,
                what: str, legs: str = "") -> None:
        """Store one placement's outcome (None: it could not be tried), audit it, alert, escalate if due.

        An accepted placement is remembered as pending (``legs`` placed under its client id) until it is listed.
        """
        accepted = result is not None and result.accepted
        message = f"placed {what}" if accepted else (f"{what} rejected: {result.message}" if result else what)
        pending = (result.client_id, legs) if result is not None and accepted else None
        failures = self.store.record_attempt(episode, self.runtime.clock.now(), accepted, message, pending)
        if failures is None:
            return  # the episode ended meanwhile (another cycle saw the stop)
        data = {"symbol": position.symbol, "side": position.side.value, "failures": failures}
        text = f"{position.side.value} {position.symbol}: {message}"
        kind = "watchdog.placed" if accepted else "watchdog.failed"
        self.runtime.audit.record(kind, ACTOR, text, account=snap.account, data=data)
        if accepted:
            self.runtime.events.emit("protection.restored", f"{snap.account} {text}", account=snap.account, data=data)
        elif failures == 1:
            self.runtime.events.emit("protection.failed", f"{snap.account} {text}; retrying every cycle",
                                     account=snap.account, data=data)
        if not accepted and failures >= self.settings.escalate_after:
            self._escalate(snap, position, episode, f"{failures} failed attempt(s) to place the {episode.missing}")

    def _wrong_side(self, snap: AccountSnapshot, position: Position, episode: Episode, stop: Decimal) -> None:
        reason = (f"the stop {fmt(stop)} for the {position.side.value} {position.symbol} (entry "
                  f"{fmt(position.entry_price)}) is already crossed by the mark {fmt(position.mark_price)}")
        if episode.escalation is None:
            self.store.count("wrong_side")
        self._escalate(snap, position, episode, reason)

    def _escalate(self, snap: AccountSnapshot, position: Position, episode: Episode, reason: str) -> None:
        """Act once per episode per RiskLimits.unprotected_policy (a rejected close is tried again)."""
        if episode.escalation not in (None, "close-failed"):
            return
        policy = self.runtime.limits().unprotected_policy
        outcome, escalation = "alert only (policy)", "alert"
        if policy == "reducing":
            moved = self.runtime.trading.escalate(TradingState.REDUCING, f"{snap.account}: {reason}", ACTOR)
            outcome = "trading set to REDUCING" if moved else "trading already REDUCING or stricter"
            escalation = policy
        elif policy == "close":
            result = self.runtime.gateway.close_position(
                snap.account, position.symbol, position.side, actor=ACTOR, purpose="watchdog-close",
                intent_id=episode.intent_id("close", episode.escalations),
            )
            outcome = "position closed at market" if result.accepted else f"close rejected: {result.message}"
            escalation = "close" if result.accepted else "close-failed"
        self.store.record_escalation(episode, self.runtime.clock.now(), escalation, f"escalated: {outcome} — {reason}")
        data = {"symbol": position.symbol, "side": position.side.value, "policy": policy, "outcome": outcome}
        message = f"{snap.account} {position.side.value} {position.symbol}: {reason}; {outcome}"
        self.runtime.audit.record("watchdog.escalated", ACTOR, message, account=snap.account, data=data)
        self.runtime.events.emit("protection.failed", message, account=snap.account, data=data)

    # -- reading -----------------------------------------------------------------------------------
    def unprotected(self) -> list[dict[str, Any]]:
        """Return the open positions without their protection, longest first, with how long."""
        return self.store.unprotected(set(self.runtime.accounts), self.runtime.clock.now())

    def counts(self) -> dict[str, int]:
        """Return the running totals (detected, placed, restored, failed, escalated, wrong_side, deferred)."""
        return self.store.counts()


# -- feature wiring --------------------------------------------------------------------------------------
NAME = "watchdog"


def install(runtime: Runtime) -> tuple[ProtectionWatchdog]:
    """Build the watchdog."""
    return (ProtectionWatchdog(runtime, runtime.settings.feature(NAME)),)


def watchdog(runtime: Runtime) -> ProtectionWatchdog:
    """Return the installed watchdog."""
    return runtime.feature(ProtectionWatchdog)


def poll_hook(runtime: Runtime, snapshots: list[AccountSnapshot]) -> None:
    """Run the watchdog after every poll cycle."""
    watchdog(runtime).check(snapshots)
