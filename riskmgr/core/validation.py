"""Parsing of request input into typed values; every failure names the field and what is allowed.

Every JSON write route reads its body with ``json_object``: the content type must be JSON, the text UTF-8, the
nesting at most ``MAX_JSON_DEPTH`` levels (checked on the bytes before parsing), numbers finite (``NaN`` and
``Infinity`` are refused) and strings free of NUL characters and lone surrogates; a failure is a 400 naming ``body``.

"Not set" depends on where a value comes from. In a JSON object only an absent key (or ``null``) is "not set":
``""``, ``0`` and ``false`` are values, checked like any other, so ``"margin_mode": 0`` is an error, not a
default. In a query string or a form (a werkzeug ``MultiDict``), where every value is text, an empty value is
"not set". Every string has a maximum length and every number a range; messages show at most a short prefix of
the value given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from werkzeug.datastructures import MultiDict

from riskmgr.core.errors import ValidationError

BODY = "body"
MAX_JSON_DEPTH = 32
SYMBOL_MAX = 40  # a unified perpetual symbol such as BTC/USDT:USDT is 13
NAME_MAX = 64  # account, preset and other names
ID_MAX = 64  # client-chosen ids such as a ticket's intent_id
REASON_MAX = 500  # why the operator did something (audited)
TEXT_MAX = 2000  # any other free text
ZONE_MAX = 64  # IANA time zone names are at most ~32 characters
NUMBER_TEXT_MAX = 40  # digits of a number sent as text
DECIMALS_MAX = 18  # decimal places of any number
NUMBER_MAX = Decimal(10) ** 15  # no figure in this app comes near it
PRICE_MAX = Decimal(10) ** 12
QTY_MAX = Decimal(10) ** 12
SHOWN = 40  # characters of a bad value repeated in a message

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


class _Request(Protocol):  # the part of flask.Request that json_object reads
    @property
    def is_json(self) -> bool: ...

    @property
    def mimetype(self) -> str: ...

    def get_data(self, cache: bool = True) -> bytes: ...


def shown(value: Any) -> str:
    """Return ``repr(value)`` cut to a short prefix, for error messages (a 200 kB value is not echoed back)."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text)} characters)"


# -- the JSON body -----------------------------------------------------------------------------------------------
def json_object(request: _Request, *, optional: bool = False) -> dict[str, Any]:
    """Return the request's JSON object body; ``optional``: an empty body is ``{}``. Fails naming ``body``."""
    raw = request.get_data(cache=True)  # beyond MAX_CONTENT_LENGTH this raises the 413
    if not raw.strip():
        if optional:
            return {}
        raise ValidationError(BODY, "is empty; expected a JSON object (Content-Type: application/json)")
    if not request.is_json:
        raise ValidationError(BODY, f"Content-Type {shown(request.mimetype or '')} is not application/json")
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse bytes into a JSON object: bounded nesting, UTF-8, finite numbers, clean strings."""
    depth = nesting_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(BODY, f"nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        raise ValidationError(BODY, f"is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ValidationError(BODY, f"nests too deep; at most {MAX_JSON_DEPTH} levels are allowed") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer of thousands of digits
        raise ValidationError(BODY, f"is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValidationError(BODY, f"expected a JSON object, got {type(data).__name__}")
    _check_strings(data, "")
    return data


def nesting_depth(raw: bytes) -> int:
    """Return how deep arrays and objects nest in JSON text (strings skipped); linear, no recursion."""
    bare = _STRING.sub(b"", _ESCAPE.sub(b"", raw))
    codes = np.frombuffer(bare, dtype=np.uint8)
    if not codes.size:
        return 0
    steps = np.isin(codes, _OPEN).astype(np.int64) - np.isin(codes, _CLOSE).astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:SHOWN]} is beyond the range of a number")
    return value


def _check_strings(value: Any, path: str) -> None:
    """Refuse NUL characters and lone surrogates anywhere (keys included): no database stores them reliably."""
    if isinstance(value, str):
        _clean_text(value, path or BODY)
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key, path or BODY)
            _check_strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, path)


def _clean_text(text: str, field: str) -> None:
    if "\x00" in text:
        raise ValidationError(field[:NAME_MAX], "contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field[:NAME_MAX], "contains a lone surrogate (\\ud800-\\udfff), not text") from None


# -- "not set" ---------------------------------------------------------------------------------------------------
def _absent(data: Mapping[str, Any], field: str) -> bool:
    """Say whether ``field`` is not set: absent or null; in a query string or form also empty."""
    raw = data.get(field)
    return raw is None or (raw == "" and isinstance(data, MultiDict))


# -- text --------------------------------------------------------------------------------------------------------
def req_str(data: Mapping[str, Any], field: str, choices: list[str] | None = None, *, max_len: int = TEXT_MAX) -> str:
    """Return a required string (trimmed, at most ``max_len`` characters), optionally one of ``choices``."""
    raw = data.get(field)
    allowed = f"; one of {', '.join(choices)}" if choices else ""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationError(field, f"is required{allowed}")
    return _text(raw, field, choices, max_len)


def opt_str(data: Mapping[str, Any], field: str, choices: list[str] | None = None, *,
            max_len: int = TEXT_MAX) -> str | None:
    """Return an optional string (absent or null: None); an empty string in JSON is an error, not "not set"."""
    if _absent(data, field):
        return None
    raw = data.get(field)
    if isinstance(raw, str) and not raw.strip():
        raise ValidationError(field, "is empty; leave it out (or send null) when it is not set")
    return _text(raw, field, choices, max_len)


def _text(raw: Any, field: str, choices: list[str] | None, max_len: int) -> str:
    allowed = f"; one of {', '.join(choices)}" if choices else ""
    if not isinstance(raw, str):
        raise ValidationError(field, f"{shown(raw)} is not text{allowed}")
    value = raw.strip()
    if len(value) > max_len:
        raise ValidationError(field, f"is {len(value)} characters long; at most {max_len} are allowed")
    _clean_text(value, field)
    if choices is not None and value not in choices:
        raise ValidationError(field, f"{shown(value)} is not allowed; one of {', '.join(choices)}")
    return value


def opt_id(data: Mapping[str, Any], field: str) -> str | None:
    """Return an optional client-chosen id: 1-64 letters, digits, '.', '_', ':' or '-'."""
    value = opt_str(data, field, max_len=ID_MAX)
    if value is not None and not _ID.match(value):
        raise ValidationError(field, f"{shown(value)} is not an id: use letters, digits, '.', '_', ':' or '-' "
                                     f"(at most {ID_MAX})")
    return value


def zone(name: Any, field: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` (at most 64 characters), or fail naming ``field``."""
    value = _text(name, field, None, ZONE_MAX) if name is not None else ""
    if not value:
        raise ValidationError(field, "is required: an IANA time zone such as UTC or Europe/Berlin")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(field, f"{shown(value)} is not a known time zone (e.g. UTC, Europe/Berlin)") from None


def opt_time(args: Mapping[str, Any], field: str) -> datetime | None:
    """Parse an optional ISO 8601 timestamp (naive means UTC)."""
    if _absent(args, field):
        return None
    raw = args.get(field)
    if not isinstance(raw, str | datetime) or (isinstance(raw, str) and len(raw) > NUMBER_TEXT_MAX):
        raise ValidationError(field, f"{shown(raw)} is not an ISO 8601 time such as 2026-01-31T12:00:00Z")
    try:
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, f"{shown(raw)} is not an ISO 8601 time such as 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- numbers -----------------------------------------------------------------------------------------------------
def number(raw: Any, field: str) -> Decimal:
    """Return ``raw`` (a JSON number, Decimal or numeric text) as a finite Decimal of bounded size and precision."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValidationError(field, f"{shown(raw)} is not a number")
    text = raw.strip() if isinstance(raw, str) else str(raw)
    if len(text) > NUMBER_TEXT_MAX:
        raise ValidationError(field, f"has {len(text)} characters; a number has at most {NUMBER_TEXT_MAX}")
    try:
        value = Decimal(text)  # str() first: a JSON float 1.1 becomes Decimal("1.1"), not its binary expansion
    except InvalidOperation:
        raise ValidationError(field, f"{shown(raw)} is not a number") from None
    if not value.is_finite():
        raise ValidationError(field, "must be a finite number")
    if abs(value) >= NUMBER_MAX:
        raise ValidationError(field, f"{shown(raw)} is out of range; numbers stay below {NUMBER_MAX:.0E}")
    if value and int(value.as_tuple().exponent) < -DECIMALS_MAX:
        raise ValidationError(field, f"{shown(raw)} has more than {DECIMALS_MAX} decimal places")
    return value


def opt_decimal(
    data: Mapping[str, Any], field: str, *, lo: Decimal | None = None, hi: Decimal | None = None, positive: bool = False
) -> Decimal | None:
    """Parse an optional decimal number within bounds (absent or null: None)."""
    if _absent(data, field):
        return None
    value = number(data.get(field), field)
    if positive and value <= 0:
        raise ValidationError(field, f"{value} must be greater than 0" + (f" (at most {hi})" if hi else ""))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        low = lo if lo is not None else ("above 0" if positive else "")
        raise ValidationError(field, f"{value} is out of range; allowed {low}–{hi if hi is not None else ''}")
    return value


def req_decimal(data: Mapping[str, Any], field: str, **bounds: Any) -> Decimal:
    """Parse a required decimal number within bounds."""
    value = opt_decimal(data, field, **bounds)
    if value is None:
        raise ValidationError(field, "is required")
    return value


def opt_int(data: Mapping[str, Any], field: str, lo: int, hi: int) -> int | None:
    """Parse an optional whole number in [lo, hi] (a JSON integer, or its text; absent or null: None)."""
    if _absent(data, field):
        return None
    raw = data.get(field)
    try:
        value = number(raw, field)
    except ValidationError:
        raise ValidationError(field, f"{shown(raw)} is not a whole number; allowed {lo}–{hi}") from None
    if value != value.to_integral_value():
        raise ValidationError(field, f"{shown(raw)} is not a whole number; allowed {lo}–{hi}")
    if not lo <= value <= hi:
        raise ValidationError(field, f"{value} is out of range; allowed {lo}–{hi}")
    return int(value)


_TRUE_TEXT = ("true", "on", "1", "yes")
_FALSE_TEXT = ("false", "off", "0", "no", "")


def opt_bool(data: Mapping[str, Any], field: str) -> bool:
    """Parse an optional boolean (absent or null: false): in JSON true or false; in a form also on/off/1/0."""
    raw = data.get(field)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    if isinstance(data, MultiDict) and isinstance(raw, str):
        if raw.lower() in _TRUE_TEXT:
            return True
        if raw.lower() in _FALSE_TEXT:
            return False
    raise ValidationError(field, f"{shown(raw)} is not true or false (a JSON boolean)")


def only_keys(data: Mapping[str, Any], known: set[str] | frozenset[str], what: str) -> None:
    """Refuse keys not in ``known`` (a misspelt field would silently be ignored), naming the first."""
    for key in data:
        if key not in known:
            raise ValidationError(str(key)[:NAME_MAX], f"is not {what}; known: {', '.join(sorted(known))}")
