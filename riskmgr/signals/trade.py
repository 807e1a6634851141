"""Can a signal be traded by hand now? Re-evaluated against the current book and mark on every read.

A signal's recorded status says what happened to it at one moment (auto-trading took it, the gate denied it, a
filter dropped it because a position was open then). Whether the trader can act on it *now* is a different,
moving answer, worked out here each time the Signals page or the API reads it:

- the order ticket trades the paper accounts, at the prices of their market: a signal computed on other prices
  cannot be traded there;
- the signal must still be valid (one bar after its bar closed), its symbol not held by any account in the
  latest account snapshots, and not within the cooldown after an automatic entry on it;
- the current mark must still lie between the signal's stop and target;
- then the ticket is offered with the stop and target re-centred on the current mark at the signal's distances
  (``riskmgr.risk.recentre``); the ticket's pre-trade receipt and the order gate still judge the order.

Whatever the answer, it carries a reason in words and the time it was worked out; times are separate fields,
never baked into the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from riskmgr.core.domain import AccountStatus, PositionSide
from riskmgr.core.errors import ExchangeError, ValidationError
from riskmgr.core.formatting import dec
from riskmgr.risk.recentre import recentre
from riskmgr.risk.sizing import fmt_number, round_to_tick

if TYPE_CHECKING:
    from riskmgr.app.runtime import Runtime


@dataclass(frozen=True)
class Book:
    """Who holds what, by the latest account snapshots; ``as_of``: the oldest of their read times."""

    held: dict[str, list[str]]  # symbol -> accounts with an open position on it
    as_of: datetime | None
    unknown: list[str]  # accounts without a current snapshot (never read, or their last poll failed)


@dataclass(frozen=True)
class PlannedSignal:
    """The parts of a signal a trade plan needs (from a scan row or a stored record)."""

    key: str
    symbol: str
    side: PositionSide
    entry: Decimal
    stop: Decimal
    target: Decimal
    created_at: datetime
    valid_until: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PlannedSignal:
        """Read a signal row of the API (strings) into a plan."""
        return cls(row["key"], row["symbol"], PositionSide(row["side"]), Decimal(row["entry"]), Decimal(row["stop"]),
                   Decimal(row["target"]), datetime.fromisoformat(row["created_at"]),
                   datetime.fromisoformat(row["valid_until"]))


def current_book(runtime: Runtime) -> Book:
    """Return the open positions of every account by its latest snapshot."""
    held: dict[str, list[str]] = {}
    times: list[datetime] = []
    unknown: list[str] = []
    snaps = runtime.snapshots.latest()
    for name in runtime.accounts:
        snap = snaps.get(name)
        if snap is None or snap.fetched_at is None:
            unknown.append(name)
            continue
        if snap.status is not AccountStatus.OK:
            unknown.append(name)
        times.append(snap.fetched_at)
        for p in snap.positions:
            held.setdefault(p.symbol, []).append(name)
    return Book(held, min(times) if times else None, unknown)


def _answer(allowed: bool, code: str, reason: str, now: datetime, book: Book, *, until: datetime | None = None,
            url: str | None = None, levels: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "allowed": allowed, "code": code, "reason": reason, "until": until.isoformat() if until else None,
        "as_of": now.isoformat(), "book_as_of": book.as_of.isoformat() if book.as_of else None,
        "book_unknown": list(book.unknown), "url": url, "levels": levels,
    }


def _blocked_by_time_or_book(s: PlannedSignal, now: datetime, book: Book, last_taken: datetime | None,
                             cooldown: timedelta) -> dict[str, Any] | None:
    if s.created_at > now:
        return _answer(False, "future", "its bar closes after now: the clock or the data is out of step", now, book,
                       until=s.created_at)
    if now >= s.valid_until:
        return _answer(False, "expired", "expired: a signal is valid for one bar; the next scan computes a new one",
                       now, book, until=s.valid_until)
    holders = book.held.get(s.symbol)
    if holders:
        return _answer(False, "held", f"a position is open on {s.symbol} ({', '.join(holders)}) now", now, book)
    if last_taken is not None and now < last_taken + cooldown:
        return _answer(False, "cooldown", f"cooling down after the automatic entry on {s.symbol}", now, book,
                       until=last_taken + cooldown)
    return None


def _past(s: PlannedSignal, mark: Decimal) -> tuple[str, str] | None:
    long = s.side is PositionSide.LONG
    if (mark <= s.stop) if long else (mark >= s.stop):
        return "past_stop", f"the mark {fmt_number(mark)} is already past the stop {fmt_number(s.stop)}"
    if (mark >= s.target) if long else (mark <= s.target):
        return "past_target", f"the mark {fmt_number(mark)} is already past the target {fmt_number(s.target)}"
    return None


def ticket_url(s: PlannedSignal, stop: Decimal, target: Decimal | None) -> str:
    """Return the order ticket link pre-filled with the signal's side and (re-centred) levels."""
    query = {"symbol": s.symbol, "side": s.side.entry_order_side.value, "stop_loss": dec(stop)}
    if target is not None:
        query["take_profit"] = dec(target)
    return "/trade?" + urlencode(query | {"signal": s.key})


def trade_now(runtime: Runtime, source: str, s: PlannedSignal, now: datetime, book: Book,
              last_taken: datetime | None, cooldown: timedelta) -> dict[str, Any]:
    """Say whether the signal can be traded by hand now, and if so the ticket with re-centred levels."""
    if not runtime.paper_accounts():
        return _answer(False, "no_account", "no paper account to trade on (PAPER_ACCOUNTS is empty)", now, book)
    market = runtime.market.source
    if market != source:
        return _answer(False, "other_market", f"the signal comes from {source} prices; the order ticket trades "
                                              f"paper accounts on {market} prices", now, book)
    blocked = _blocked_by_time_or_book(s, now, book, last_taken, cooldown)
    if blocked is not None:
        return blocked
    try:
        spec = runtime.market.specs()[s.symbol]
        mark = runtime.market.ticker(s.symbol).mark
    except KeyError:
        return _answer(False, "no_market", f"the {market} market does not list {s.symbol}", now, book)
    except (ExchangeError, ValidationError) as exc:
        why = exc.describe() if isinstance(exc, ExchangeError) else str(exc)
        return _answer(False, "no_price", f"no mark price for {s.symbol}: {why}", now, book)
    past = _past(s, mark)
    if past is not None:
        return _answer(False, past[0], past[1], now, book)
    # the signal's levels come from float indicators: on the tick first, cautiously (the stop no nearer the entry,
    # the target no further), so the distances moved are ones the market can quote
    up = s.side is PositionSide.SHORT
    stop, target = round_to_tick(s.stop, spec.price_tick, up=up), round_to_tick(s.target, spec.price_tick, up=up)
    try:
        levels = recentre(s.side, s.entry, stop, target, mark, spec.price_tick)
    except ValidationError as exc:
        return _answer(False, "no_levels", f"no re-centred levels: {exc}", now, book)
    reason = f"no position open on {s.symbol}; stop and target re-centred on the mark"
    if book.unknown:
        reason += f" (no current snapshot of {', '.join(book.unknown)}: its positions are not known)"
    return _answer(True, "ok", reason, now, book, url=ticket_url(s, levels.stop, levels.target),
                   levels=levels.as_dict())
