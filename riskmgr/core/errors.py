"""The riskmgr exception tree.

Every docstring says what the caller must do. Vendor errors (ccxt, HTTP, JSON) are translated into
these classes at the adapter boundary with ``raise ... from e``; nothing vendor-specific leaks upward.
Policy decisions (a risk rule denying an order) are *not* exceptions: they are ``Verdict`` values.
"""

from __future__ import annotations


class RiskmgrError(Exception):
    """Base class. Catch only to log and re-raise; prefer a specific subclass."""


class ConfigError(RiskmgrError):
    """A setting is missing or out of range. Stop at start-up and show the message to the operator."""


class ValidationError(RiskmgrError):
    """User input is invalid. Answer 400 naming ``field``; change nothing."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ExchangeError(RiskmgrError):
    """An exchange call failed. ``account`` and ``operation`` give the context for the log and the UI."""

    def __init__(self, message: str, *, account: str = "", operation: str = "", code: str | None = None):
        super().__init__(message)
        self.account = account
        self.operation = operation
        self.code = code

    def describe(self) -> str:
        """Return a one-line reason fit for the dashboard ("stale since ... — reason")."""
        where = f"{self.operation}: " if self.operation else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self}{code}"


class TemporaryError(ExchangeError):
    """Network trouble, timeout, exchange busy. Retry with backoff; if it persists, mark the data stale."""


class RateLimitError(TemporaryError):
    """The exchange asked us to slow down. Back off longer, and at least ``retry_after`` seconds when it is set.

    ``retry_after`` is the venue's ``Retry-After`` header in seconds (None: the venue named no wait).
    """

    retry_after: float | None = None


class AuthError(ExchangeError):
    """Keys rejected, IP not whitelisted, permission missing. Stop trading this account and alert a human."""


class InsufficientFundsError(ExchangeError):
    """Not enough margin for the order. Do not retry the same order."""


class InvalidOrderError(ExchangeError):
    """The exchange refused the order as malformed or impossible. Do not retry unchanged; audit and alert."""


class NotFoundError(ExchangeError):
    """The order or position does not exist (any more). Re-read state before deciding anything."""


class MalformedResponseError(ExchangeError):
    """The exchange answered something we cannot parse. Treat like a failed read: data stale, no figure."""


class NotSupportedError(ExchangeError):
    """The adapter cannot do this on this exchange. A programming or configuration fault; alert."""


class DuplicateClientIdError(InvalidOrderError):
    """An order with this client id already exists. Look it up by client id instead of placing it again."""
