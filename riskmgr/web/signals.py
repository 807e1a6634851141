"""The Signals page and its API: thin views over the scanner (every route is authenticated by web.auth)."""

from __future__ import annotations

import inspect
import re

from flask import Blueprint, jsonify, render_template, request

from riskmgr.app.runtime import current_runtime
from riskmgr.candles.store import CandleDataError
from riskmgr.core.errors import ValidationError
from riskmgr.core.validation import SYMBOL_MAX, opt_int, opt_str, shown
from riskmgr.scanner.core import Scanner
from riskmgr.scanner.views import api_view, chart_view, plan_view, scanned_symbol
from riskmgr.signals import conservative as signals
from riskmgr.signals import quality as signal_quality

bp = Blueprint("scanner", __name__)
NAV = (("scanner.signals_page", "Signals"),)
HISTORY_DEFAULT, HISTORY_MAX = 50, 500
KEY_MAX = 160  # SignalRecord.key
_ITEM = re.compile(r"^(\d+\.|-)\s+")


def doc_blocks(doc: str | None) -> list[tuple[str, list[str]]]:
    """Return a module docstring as page blocks: ("p", [text]), ("ol", items) or ("ul", items), lines re-joined.

    Sentences and items that name code (``like this``) are for developers and are left out.
    """
    blocks: list[tuple[str, list[str]]] = []
    for chunk in inspect.cleandoc(doc or "").split("\n\n"):
        items: list[str] = []
        for line in chunk.splitlines():
            if _ITEM.match(line.strip()) or not items:
                items.append(line.strip())
            else:
                items[-1] += " " + line.strip()
        first = _ITEM.match(items[0]) if items else None
        if first is None:
            text = " ".join(s for s in re.split(r"(?<=\.)\s+", " ".join(items)) if "``" not in s)
            if text:
                blocks.append(("p", [text]))
        else:
            items = [item for item in items if "``" not in item]
            kind = "ol" if first.group(1)[0].isdigit() else "ul"
            blocks.append((kind, [_ITEM.sub("", item) for item in items]))
    return blocks


def scanner() -> Scanner:
    """Return the scanner of the current app."""
    return current_runtime().feature(Scanner)


@bp.get("/signals")
def signals_page():
    s = scanner()
    return render_template(
        "signals.html",
        rules_blocks=doc_blocks(signals.__doc__),
        quality_blocks=doc_blocks(signal_quality.__doc__),
        source=s.settings.source, simulated=s.simulated, timeframe=s.settings.timeframe,
        signal_seconds=s.settings.signal_seconds,
    )


@bp.get("/api/signals")
def signals_api():
    return jsonify(api_view(scanner()))


@bp.post("/api/signals/scan")
def scan_now():
    """Run one scan now; it never trades (auto-trading acts on the scheduled scans only)."""
    s = scanner()
    s.scan(trigger="manual", auto_trade=False)
    return jsonify(api_view(s))


@bp.get("/api/signals/history")
def history_api():
    s = scanner()
    limit = opt_int(request.args, "limit", 1, HISTORY_MAX) or HISTORY_DEFAULT
    symbol = request.args.get("symbol")
    return jsonify(signals=s.history.history(limit, scanned_symbol(s, symbol) if symbol else None))


@bp.get("/api/signals/plan")
def plan_api():
    """One signal (``key``, or the latest scan's on ``symbol``) and whether it can be traded by hand now."""
    s = scanner()
    key = opt_str(request.args, "key", max_len=KEY_MAX)
    raw = opt_str(request.args, "symbol", max_len=SYMBOL_MAX)
    if key is None and raw is None:
        raise ValidationError("key", "is required (or symbol): the signal to plan a trade for")
    symbol = scanned_symbol(s, raw) if raw is not None and key is None else None
    row = plan_view(s, key, symbol)
    if row is None:
        what = f"key {shown(key)}" if key else f"symbol {symbol} in the latest scan"
        return jsonify(error="no such signal", detail=f"no signal with {what}"), 404
    return jsonify(row)


@bp.get("/api/signals/<path:symbol>/chart")
def chart_api(symbol: str):
    s = scanner()
    try:
        return jsonify(chart_view(s, scanned_symbol(s, symbol)))
    except CandleDataError as exc:
        return jsonify(error="market data unavailable", detail=str(exc)), 503
