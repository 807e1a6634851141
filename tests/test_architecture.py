"""The package's shape (issue 12): folders by feature, each saying what it owns, no import circles, a Flask-free
domain. The layers themselves are import-linter contracts in pyproject.toml, run by `make test` (lint-imports)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import riskmgr

PACKAGE = Path(riskmgr.__file__).resolve().parent
ROOT = PACKAGE.parent

# The domain: these packages import without Flask, every module of them (their pages are in riskmgr/web/, their
# commands in riskmgr/app/cli/).
DOMAIN = ("riskmgr.core", "riskmgr.market", "riskmgr.signals", "riskmgr.exchanges", "riskmgr.risk", "riskmgr.backtest")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _module_level_imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Return the riskmgr modules ``name`` imports when it is imported (function-level and TYPE_CHECKING excluded)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("riskmgr"):
            found.update(m for m in [node.module, *(f"{node.module}.{a.name}" for a in node.names)] if m in known)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
    found.discard(name)
    return found


def test_riskmgr_has_at_most_eight_top_level_modules_and_the_rest_in_feature_folders():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_every_package_says_what_it_owns_in_its_docstring():
    missing = [
        _module_name(init) for init in PACKAGE.rglob("__init__.py")
        if len((ast.get_docstring(ast.parse(init.read_text())) or "").split()) < 8
    ]
    assert missing == [], f"packages without a docstring saying what they own: {missing}"


def test_no_module_imports_one_that_imports_it_back():
    known = _modules()
    graph = {name: _module_level_imports(name, path, known) for name, path in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    assert circles == [], f"import circles: {circles}"


def test_the_domain_imports_without_flask_in_a_fresh_interpreter():
    names = sorted(n for n in _modules() if n.startswith(DOMAIN))
    probe = (
        "import importlib, json, sys\n"
        "pulled = []\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    before = 'flask' in sys.modules\n"
        "    importlib.import_module(name)\n"
        "    if not before and 'flask' in sys.modules:\n"
        "        pulled.append(name)\n"
        "print(json.dumps({'pulled': pulled, 'flask': 'flask' in sys.modules,\n"
        "                  'flask_sqlalchemy': 'flask_sqlalchemy' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(names)], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=300)
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(names) > 100, names  # the walk found the domain
    assert answer == {"pulled": [], "flask": False, "flask_sqlalchemy": False}, answer
