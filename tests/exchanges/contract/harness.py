"""What every venue's contract harness offers: its real adapter, ways to put the venue into a state, and what to expect.

A harness answers for one venue. The ``given_*`` methods put the venue into a named state (the paper venue through
real orders on its own database and a hand-driven market; the live venues through mocked HTTP whose replies are
shaped exactly like the venues' documented answers) and return what a correct adapter must then report, derived by
hand from those answers. ``Declared`` lists where a venue genuinely differs; a contract test checks the declared
behaviour instead of skipping.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

from riskmgr.core.domain import PositionSide
from riskmgr.exchanges.base import ExchangeAdapter

BTC = "BTC/USDT:USDT"


@dataclass(frozen=True)
class Declared:
    """Where a venue genuinely differs from the others, and what it does instead."""

    # the venue sends no equity: the adapter infers it as a sum of other fields and names that sum
    equity_estimated: bool = False
    # False: no keys at all, so nothing can reject them (paper)
    credentials: bool = True
    # False: nothing throttles it; a busy store is the one "try again later" it can answer (paper)
    throttles: bool = True
    # False: no wire reply that could be null or garbled; a corrupt stored record is its malformed answer (paper)
    wire: bool = True
    # True: positions carry the venue's own position id, part of their identity
    position_ids: bool = False
    # True: a stop-loss and a take-profit are two legs of one venue order (Bitunix TP/SL rows): they cancel together
    paired_protection: bool = False
    # False: positions carry no open time (Binance positionRisk): identity falls back to the entry price
    open_times: bool = True


@dataclass(frozen=True)
class ExpectedBalance:
    equity: Decimal
    wallet: Decimal
    available: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class ExpectedPosition:
    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal


@dataclass(frozen=True)
class ExpectedOrders:
    """The open orders a protected position plus one resting order must read as (ids as the venue names them)."""

    stop_id: str
    stop_trigger: Decimal
    target_id: str
    target_trigger: Decimal
    plain_id: str


class Harness(ABC):
    """One venue under the contract: ``adapter`` is the real adapter class, wired to a venue in a known state."""

    name: str
    declared: Declared
    adapter: ExchangeAdapter
    balance_endpoint: str = ""  # the path the balance is read from (wire venues)
    secrets: tuple[str, ...] = ()  # the key, secret (and passphrase) the adapter was built with

    # -- reads ------------------------------------------------------------------------------------------
    @abstractmethod
    def given_balance(self) -> ExpectedBalance:
        """Any USDT balance; return the figures the adapter must report."""

    @abstractmethod
    def given_long_position(self) -> ExpectedPosition:
        """Exactly one open position: a BTC long."""

    @abstractmethod
    def given_flat(self) -> None:
        """No open position."""

    @abstractmethod
    def given_protected_position_and_a_resting_order(self) -> ExpectedOrders:
        """A position with a stop-loss and a take-profit trigger, and one plain resting limit order."""

    # -- writes -----------------------------------------------------------------------------------------
    @abstractmethod
    def given_long_to_protect(self) -> None:
        """A BTC long with no protection; the venue accepts a position stop for it."""

    @abstractmethod
    def stop_sent(self) -> Decimal:
        """Return the trigger price the venue now holds (or was sent) for the BTC long's stop."""

    @abstractmethod
    def given_long_to_close(self) -> Decimal:
        """A BTC long the venue will close; return its size."""

    @abstractmethod
    def given_resting_order(self) -> tuple[str, str]:
        """One open plain order the venue will cancel; return (symbol, id)."""

    @abstractmethod
    def cancelled(self) -> list[str]:
        """Return the ids the venue was asked to cancel (paper: the ids no longer open)."""

    def venue_order_id(self, order_id: str) -> str:
        """Return the id the venue is sent to cancel the order riskmgr knows as ``order_id``."""
        return order_id

    @abstractmethod
    def given_cancels_accepted(self) -> None:
        """The venue accepts every cancel of the orders ``given_protected_position_and_a_resting_order`` listed."""

    @abstractmethod
    def given_no_such_order(self) -> tuple[str, str]:
        """Return (symbol, id) of an order that is not open on the venue."""

    # -- failures (venues with ``declared.credentials`` / ``throttles`` / ``wire``) ------------------------
    def given_rejected_credentials(self) -> None:
        """The venue refuses the keys on the balance read."""
        raise NotImplementedError(f"{self.name} declares no credentials")

    def given_throttled(self, seconds: int) -> None:
        """The venue throttles the balance read and names the wait in a Retry-After header."""
        raise NotImplementedError(f"{self.name} declares no throttling")

    def given_null_positions(self) -> None:
        """The positions list arrives as null."""
        raise NotImplementedError(f"{self.name} declares no wire")

    def given_null_balance(self) -> None:
        """The balance reply arrives as null."""
        raise NotImplementedError(f"{self.name} declares no wire")

    def given_null_open_orders(self) -> None:
        """The open-orders list arrives as null."""
        raise NotImplementedError(f"{self.name} declares no wire")

    def given_html_instead_of_json(self) -> None:
        """The balance read is answered 200 with an HTML page (a proxy's, a maintenance page)."""
        raise NotImplementedError(f"{self.name} declares no wire")

    def given_venue_unavailable(self) -> None:
        """The balance read is answered 503 (the venue is down or overloaded)."""
        raise NotImplementedError(f"{self.name} declares no wire")

    # -- what a venue without keys, throttle or wire (paper) offers instead ---------------------------------------
    def busy_store(self) -> tuple[ExchangeAdapter, sqlite3.Connection]:
        """Return an adapter that waits briefly for its store, and the connection now holding the store's lock."""
        raise NotImplementedError(f"{self.name} has no store of its own")

    def network_calls(self) -> int:
        """Return how many HTTP calls the adapter has made."""
        raise NotImplementedError(f"{self.name} talks to its venue over the network")
