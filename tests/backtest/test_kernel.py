"""The compiled backtest kernel: used only when built from the sources on disk now; exactly plain Python's results."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from riskmgr.backtest import kernel
from riskmgr.backtest.kernel import SUFFIX, KernelFinder, KernelMode, decide, source_digest
from tests.backtest.workloads import random_cases

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("alpha", "beta")


def require_compiled() -> None:
    """``make test`` builds the kernel and sets RISKMGR_KERNEL_REQUIRED: there, a missing build is a failure."""
    if kernel.MODE.compiled:
        return
    if os.environ.get("RISKMGR_KERNEL_REQUIRED"):
        pytest.fail(f"the backtest kernel is not compiled: {kernel.MODE.detail}")
    pytest.skip(f"the backtest kernel is not compiled here ({kernel.MODE.detail}); make test builds it")


def built_folder(tmp_path: Path) -> Path:
    """A folder as the build leaves it: two sources, their extension files and a manifest of their digests."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        (tmp_path / f"{name}.py").write_text(f"NAME = {name!r}\n")
        (tmp_path / f"{name}{SUFFIX}").write_bytes(b"built")
    manifest = {"cython": "3.3.1", "modules": {name: source_digest(tmp_path, name) for name in MODULES}}
    (tmp_path / "kernel.json").write_text(json.dumps(manifest))
    return tmp_path


def mode_of(folder: Path, environ: dict[str, str] | None = None) -> KernelMode:
    return decide(folder, folder / "kernel.json", environ or {}, MODULES, SUFFIX)


def test_a_fresh_build_is_compiled_and_names_cython(tmp_path: Path) -> None:
    mode = mode_of(built_folder(tmp_path))
    assert mode == KernelMode(True, "Cython 3.3.1")
    assert mode.describe() == "compiled (Cython 3.3.1)"


def test_a_source_changed_since_the_build_runs_plain_python_and_says_which(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    (folder / "beta.py").write_text("NAME = 'beta, edited'\n")
    assert mode_of(folder) == KernelMode(False, "beta.py changed since the kernel was built: rebuild it")


def test_a_declarations_file_added_since_the_build_counts_as_a_change(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    (folder / "alpha.pxd").write_text("cdef int x\n")
    assert not mode_of(folder).compiled
    assert "alpha.py changed" in mode_of(folder).detail


def test_a_missing_extension_file_runs_plain_python(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    (folder / f"alpha{SUFFIX}").unlink()
    assert mode_of(folder) == KernelMode(False, f"alpha{SUFFIX} is missing: rebuild the kernel")


def test_no_manifest_means_not_built(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    (folder / "kernel.json").unlink()
    mode = mode_of(folder)
    assert not mode.compiled and mode.detail.startswith("the kernel is not built")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"modules": {}}', '{"cython": "3", "modules": 7}'])
def test_an_unreadable_manifest_runs_plain_python_and_says_why(tmp_path: Path, text: str) -> None:
    folder = built_folder(tmp_path)
    (folder / "kernel.json").write_text(text)
    mode = mode_of(folder)
    assert not mode.compiled
    assert mode.detail.startswith("kernel.json cannot be read (") or mode.detail.startswith("kernel.json lists")


def test_a_manifest_of_another_module_list_runs_plain_python(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    manifest = json.loads((folder / "kernel.json").read_text())
    del manifest["modules"]["beta"]
    (folder / "kernel.json").write_text(json.dumps(manifest))
    assert mode_of(folder) == KernelMode(False, "kernel.json lists alpha, not this version's modules alpha, beta: "
                                                "rebuild it")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_the_environment_can_ask_for_plain_python(tmp_path: Path, value: str) -> None:
    mode = mode_of(built_folder(tmp_path), {"RISKMGR_PURE_PYTHON": value})
    assert mode == KernelMode(False, f"RISKMGR_PURE_PYTHON={value} asks for it")
    assert mode_of(built_folder(tmp_path), {"RISKMGR_PURE_PYTHON": "0"}).compiled


def test_the_finder_loads_a_compiled_kernel_module_from_its_extension_file(tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    finder = KernelFinder(KernelMode(True, "Cython"), folder, "pkg", MODULES, SUFFIX)
    spec = finder.find_spec("pkg.alpha")
    assert spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(folder / f"alpha{SUFFIX}")


def test_the_finder_loads_sources_when_the_kernel_is_not_compiled_even_beside_an_extension_file(tmp_path: Path
                                                                                                 ) -> None:
    folder = built_folder(tmp_path)
    finder = KernelFinder(KernelMode(False, "stale"), folder, "pkg", MODULES, SUFFIX)
    spec = finder.find_spec("pkg.alpha")
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert spec.origin == str(folder / "alpha.py")


def test_the_finder_loads_a_module_outside_the_kernel_from_its_source_even_when_an_extension_file_lingers(
        tmp_path: Path) -> None:
    folder = built_folder(tmp_path)
    (folder / "gamma.py").write_text("NAME = 'gamma'\n")
    (folder / f"gamma{SUFFIX}").write_bytes(b"left from an older build")
    finder = KernelFinder(KernelMode(True, "Cython"), folder, "pkg", MODULES, SUFFIX)
    spec = finder.find_spec("pkg.gamma")
    assert spec is not None and spec.origin == str(folder / "gamma.py")


def test_the_finder_leaves_other_packages_and_unknown_names_alone(tmp_path: Path) -> None:
    finder = KernelFinder(KernelMode(True, "Cython"), built_folder(tmp_path), "pkg", MODULES, SUFFIX)
    assert finder.find_spec("other.alpha") is None
    assert finder.find_spec("pkg.missing") is None
    assert finder.find_spec("pkg") is None


def test_a_stale_module_is_loaded_from_its_source_in_a_real_import(tmp_path: Path) -> None:
    """Through Python's import system: a source edited after the build is what runs, not the stale build."""
    folder = built_folder(tmp_path / "pkg_stale_demo")
    (folder / "__init__.py").write_text("")
    (folder / "alpha.py").write_text("NAME = 'edited source'\n")
    (folder / f"alpha{SUFFIX}").write_bytes(b"not a loadable extension: importing it would fail")
    code = ("import sys; from pathlib import Path; from riskmgr.backtest.kernel import KernelFinder, decide, SUFFIX\n"
            f"folder = Path({str(folder)!r})\n"
            f"mode = decide(folder, folder / 'kernel.json', {{}}, {MODULES!r}, SUFFIX)\n"
            "sys.meta_path.insert(0, KernelFinder(mode, folder, 'pkg_stale_demo', ('alpha', 'beta'), SUFFIX))\n"
            f"sys.path.insert(0, {str(tmp_path)!r}); import pkg_stale_demo.alpha as a; print(mode.compiled, a.NAME)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "edited", "source"]


def test_the_kernel_modules_run_compiled_and_every_other_module_from_source() -> None:
    require_compiled()
    import riskmgr.backtest as package

    for name in kernel.KERNEL_MODULES:
        module = importlib.import_module(f"riskmgr.backtest.{name}")
        assert module.__file__ is not None and module.__file__.endswith(SUFFIX), name
    for other in ("outcome", "stats", "reference", "report", "kernel"):
        module = importlib.import_module(f"riskmgr.backtest.{other}")
        assert module.__file__ is not None and module.__file__.endswith(".py"), other
    assert Path(package.__file__ or "").name == "__init__.py"


def workload(cases: Path, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.backtest.workloads", str(cases)], capture_output=True,
                         text=True, cwd=ROOT, timeout=600, check=False,
                         env={k: v for k, v in os.environ.items() if k != "RISKMGR_PURE_PYTHON"} | env)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout)


def test_the_compiled_kernel_gives_exactly_the_plain_python_trades_curve_and_figures(tmp_path: Path) -> None:
    """The Conservative preset (as defined and re-armed daily) and 200 random cases through the engine and the
    bar-by-bar loop, once compiled and once in plain Python: every trade, the equity at every bar, every denial,
    event and figure the same."""
    require_compiled()
    cases = tmp_path / "cases.pkl"
    cases.write_bytes(pickle.dumps(random_cases(200)))
    compiled = workload(cases)
    plain = workload(cases, RISKMGR_PURE_PYTHON="1")
    assert compiled["compiled"] and compiled["engine_file"].endswith(SUFFIX)
    assert not plain["compiled"] and plain["engine_file"].endswith("engine.py")
    assert len(compiled["runs"]) == 402
    trading = [name for name, run in compiled["runs"].items() if run["trades"] > 0]
    assert len(trading) > 100, "too few cases trade to show anything"
    assert compiled["runs"]["conservative re-armed daily"]["trades"] > 300
    differ = [name for name in compiled["runs"] if compiled["runs"][name] != plain["runs"][name]]
    assert differ == []
