"""Which build of the backtest's hot modules runs: compiled by Cython from these very sources, or plain Python.

The event-driven replay spends its time in the Python interpreter itself (a flat profile: attribute look-ups,
calls, small Decimal and numpy operations per trade). ``scripts/build_kernel.py`` compiles the modules named in
``KERNEL_MODULES`` with Cython, *unchanged* and with their type annotations ignored, so the compiled modules keep
Python's semantics exactly (Python ints and floats, ``ZeroDivisionError``, the same Decimal calls) and give the same
trades and figures, only with less interpreter overhead. The build records a SHA-256 of every source it compiled in
``kernel.json`` beside them.

A compiled module is used only when it is known to be built from the source on disk now: the manifest names
exactly ``KERNEL_MODULES``, every source's digest matches, and every extension file is there for this Python.
Otherwise, or with ``RISKMGR_PURE_PYTHON=1`` in the environment, every module of the package is loaded from its
``.py`` source (an extension file left beside a changed source would otherwise shadow it: Python's own import
system prefers extension modules). The choice is made once, when ``riskmgr.backtest`` is first imported, and is
``MODE``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = __name__.rpartition(".")[0]
FOLDER = Path(__file__).resolve().parent
MANIFEST = FOLDER / "kernel.json"
PURE_ENV = "RISKMGR_PURE_PYTHON"
# the modules the replay spends its time in (engine, fills, the held-position pass, the poll, the entry decision)
KERNEL_MODULES = ("account", "decisions", "engine", "fastfill", "fasthold", "fastpath", "fastpoll", "polling",
                  "screening")
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's, e.g. ".cpython-311-x86_64-linux-gnu.so"


@dataclass(frozen=True)
class KernelMode:
    """The build in use: ``compiled`` True when every kernel module is its verified Cython build; ``detail`` says
    which build (Cython's version) or why plain Python runs."""

    compiled: bool
    detail: str

    def describe(self) -> str:
        return f"compiled ({self.detail})" if self.compiled else f"plain Python ({self.detail})"


def source_digest(folder: Path, name: str) -> str:
    """The SHA-256 of a kernel module's source and of its optional Cython declarations (``.pxd``) beside it."""
    digest = hashlib.sha256((folder / f"{name}.py").read_bytes())
    pxd = folder / f"{name}.pxd"
    if pxd.exists():
        digest.update(b"\0pxd\0" + pxd.read_bytes())
    return digest.hexdigest()


def decide(folder: Path, manifest: Path, environ: Mapping[str, str], modules: Sequence[str] = KERNEL_MODULES,
           suffix: str = SUFFIX) -> KernelMode:
    """Decide the build from what is on disk; every reason for plain Python is named."""
    if environ.get(PURE_ENV, "").strip() not in ("", "0"):
        return KernelMode(False, f"{PURE_ENV}={environ[PURE_ENV]} asks for it")
    if not manifest.exists():
        return KernelMode(False, "the kernel is not built: run scripts/build_kernel.py (make run and make test do)")
    try:
        built = json.loads(manifest.read_text(encoding="utf-8"))
        digests, cython = dict(built["modules"]), str(built["cython"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return KernelMode(False, f"{manifest.name} cannot be read ({exc.__class__.__name__}: {exc}): rebuild it")
    if sorted(digests) != sorted(modules):
        return KernelMode(False, f"{manifest.name} lists {', '.join(sorted(digests))}, not this version's modules "
                                 f"{', '.join(sorted(modules))}: rebuild it")
    for name in modules:
        if not (folder / f"{name}{suffix}").exists():
            return KernelMode(False, f"{name}{suffix} is missing: rebuild the kernel")
        if digests[name] != source_digest(folder, name):
            return KernelMode(False, f"{name}.py changed since the kernel was built: rebuild it")
    return KernelMode(True, f"Cython {cython}")


class KernelFinder:
    """Load every module of the package from the build ``mode`` chose: a kernel module's extension file when the
    kernel is compiled, its ``.py`` source otherwise; any other module always from its source."""

    def __init__(self, mode: KernelMode, folder: Path = FOLDER, package: str = PACKAGE,
                 modules: Sequence[str] = KERNEL_MODULES, suffix: str = SUFFIX):
        self.mode, self.folder, self.package = mode, folder, package
        self.modules, self.suffix = frozenset(modules), suffix

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        parent, _, name = fullname.rpartition(".")
        if parent != self.package:
            return None
        source = self.folder / f"{name}.py"
        if not source.exists():
            return None  # not a module of this folder (or a subpackage): the usual machinery decides
        built = str(self.folder / f"{name}{self.suffix}")
        if self.mode.compiled and name in self.modules and os.path.exists(built):  # gone: removed by a rebuild
            return importlib.util.spec_from_file_location(
                fullname, built, loader=importlib.machinery.ExtensionFileLoader(fullname, built))
        return importlib.util.spec_from_file_location(fullname, source)


def install(mode: KernelMode) -> None:
    """Put the package's finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, KernelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, KernelFinder(mode))


MODE = decide(FOLDER, MANIFEST, os.environ)
install(MODE)
