"""The type checker's rules (issue 12): mypy runs in `make test` over the whole package, strict on the core, the
risk rules, the exchange adapters and the backtester, and every ``# type: ignore`` says which error it silences
and why."""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from pathlib import Path

import riskmgr

PACKAGE = Path(riskmgr.__file__).resolve().parent
ROOT = PACKAGE.parent

STRICT_PACKAGES = ["riskmgr.core.*", "riskmgr.risk.*", "riskmgr.exchanges.*", "riskmgr.backtest.*"]
# what mypy's --strict turns on that a per-module section can set (a `strict = true` there leaks to every module)
STRICT_FLAGS = {
    "disallow_any_generics": True, "disallow_subclassing_any": True, "disallow_untyped_calls": True,
    "disallow_untyped_defs": True, "disallow_incomplete_defs": True, "check_untyped_defs": True,
    "disallow_untyped_decorators": True, "warn_return_any": True, "implicit_reexport": False,
    "strict_equality": True, "extra_checks": True,
}
PENDING: set[str] = set()  # files allowed a reasonless ignore for now: none

_IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<rest>.*)")
_WITH_REASON = re.compile(r"^\[[a-z-]+(?:\s*,\s*[a-z-]+)*\]\s+#\s*\S")


def bare_ignores(source: str) -> list[int]:
    """Return the lines whose ``# type: ignore`` names no error code or gives no reason after it."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = _IGNORE.search(token.string)
        if match and not _WITH_REASON.match(match.group("rest").strip()):
            found.append(token.start[0])
    return found


def _mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def test_every_type_ignore_in_the_package_names_its_error_code_and_a_reason():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name not in PENDING:
            offenders += [f"{name}:{line}" for line in bare_ignores(path.read_text())]
    assert offenders == [], "write `# type: ignore[code]  # why` instead of a bare ignore: " + ", ".join(offenders)


def test_a_bare_ignore_an_ignore_without_code_and_an_ignore_with_code_and_reason_are_told_apart():
    source = (
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[attr-defined]\n"
        "c = f()  # type: ignore[attr-defined]  # ccxt ships no types\n"
        "d = f()  # type: ignore  # a reason but no code\n"
        "e = f()  # type: ignore[arg-type, union-attr]  # checked above\n"
        "s = '# type: ignore inside a string is no comment'\n"
    )
    assert bare_ignores(source) == [1, 2, 4]


def test_the_checker_covers_the_whole_package_and_warns_on_an_ignore_no_longer_needed():
    config = _mypy_config()
    assert config["files"] == ["riskmgr"]
    assert config["warn_unused_ignores"] is True
    assert "strict" not in config  # strict on four packages only, through the override below


def test_the_core_risk_exchanges_and_backtest_packages_are_checked_with_every_strict_flag():
    overrides = _mypy_config()["overrides"]
    strict = [o for o in overrides if o["module"] == STRICT_PACKAGES]
    assert len(strict) == 1
    assert {flag: strict[0].get(flag) for flag in STRICT_FLAGS} == STRICT_FLAGS
    assert all("strict" not in o for o in overrides)  # a per-module `strict = true` turns it on for every module


def test_missing_imports_are_ignored_only_for_third_party_packages_named_one_by_one():
    config = _mypy_config()
    assert "ignore_missing_imports" not in config
    lenient = [o for o in config["overrides"] if o.get("ignore_missing_imports")]
    modules = [m for o in lenient for m in o["module"]]
    assert modules and all(not m.startswith("riskmgr") and m != "*" for m in modules)
