"""The front end's shared habits (issue 12), read from static/js: every page polls through RM.poll (static/js/poll.js)
and builds markup through RM.html / RM.fill (static/js/dom.js), never by assigning interpolated strings."""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parents[2] / "static" / "js"
HELPERS = {"poll.js", "dom.js", "common.js"}
# pages still assigning innerHTML, and how many sites each has left (lower these as pages are converted)
INNER_HTML_LEFT: dict[str, int] = {}
# the one timer left outside RM.poll: the trade ticket's preview debounce (not a poll)
TIMERS_ALLOWED = {"trade.js": 1}
INNER_HTML = re.compile(r"\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML\s*\(")


def _pages() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(JS.glob("*.js")) if p.name not in HELPERS}


def test_pages_exist_to_check():
    assert len(_pages()) >= 10


def test_no_page_assigns_inner_html_beyond_what_is_left():
    counts = {name: len(INNER_HTML.findall(text)) for name, text in _pages().items()}
    over = {name: n for name, n in counts.items() if n > INNER_HTML_LEFT.get(name, 0)}
    assert over == {}, f"markup assigned as a string (use RM.fill(el, RM.html`...`)): {over}"


def test_no_page_runs_its_own_interval_or_timeout_poll():
    counts = {name: len(re.findall(r"\bset(Interval|Timeout)\s*\(", text)) for name, text in _pages().items()}
    over = {name: n for name, n in counts.items() if n > TIMERS_ALLOWED.get(name, 0)}
    assert over == {}, f"own timers instead of RM.poll: {over}"


def test_no_page_escapes_by_hand_instead_of_through_rm_html():
    hand = {name: text.count("RM.esc(") for name, text in _pages().items() if "RM.esc(" in text}
    assert hand == {}, f"escape by building with RM.html, not RM.esc: {hand}"


def test_common_helpers_assign_no_interpolated_markup():
    for name in HELPERS:
        text = (JS / name).read_text()
        for line in text.splitlines():
            if INNER_HTML.search(line):
                assert "${" not in line and "+" not in line.split("=", 1)[1], f"{name}: {line.strip()}"


def test_templates_load_the_helpers_before_the_pages():
    base = (JS.parents[1] / "templates" / "base.html").read_text()
    order = [base.index(f"js/{name}") for name in ("common.js", "dom.js", "poll.js", "liveness.js")]
    assert order == sorted(order)
    assert base.index("js/poll.js") < base.index("{% block scripts %}")
