"""scripts/build_kernel.py: a failed build leaves no manifest and no extension file, so plain Python runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from riskmgr.backtest.kernel import SUFFIX, decide

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_kernel_under_test", ROOT / "scripts" / "build_kernel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script pointed at a scratch folder holding one module, an old build of it and an old manifest."""
    module = load_script()
    (tmp_path / "alpha.py").write_text("NAME = 'alpha'\n")
    (tmp_path / f"alpha{SUFFIX}").write_bytes(b"old build")
    (tmp_path / f"orphan{SUFFIX}").write_bytes(b"a module no longer in the kernel")
    (tmp_path / "kernel.json").write_text(json.dumps({"cython": "0", "modules": {"alpha": "old"}}))
    monkeypatch.setattr(module, "FOLDER", tmp_path)
    monkeypatch.setattr(module, "MANIFEST", tmp_path / "kernel.json")
    monkeypatch.setattr(module, "KERNEL_MODULES", ("alpha",))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def test_a_failed_compilation_removes_the_old_build_and_exits_1_with_the_reason(
        script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def fail(jobs: int) -> str:
        raise RuntimeError("gcc: command not found")

    monkeypatch.setattr(script, "compile_modules", fail)
    assert script.main(["--jobs", "1"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.py"]
    err = capsys.readouterr().err
    assert "not built (RuntimeError: gcc: command not found)" in err and "plain Python" in err
    assert not decide(tmp_path, tmp_path / "kernel.json", {}, ("alpha",), SUFFIX).compiled


def test_a_successful_build_writes_the_manifest_last_with_every_source_digest(
        script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(jobs: int) -> str:
        assert not (tmp_path / "kernel.json").exists(), "the old manifest must be gone while building"
        (tmp_path / f"alpha{SUFFIX}").write_bytes(b"new build")
        return "9.9"

    monkeypatch.setattr(script, "compile_modules", build)
    assert script.main(["--jobs", "1"]) == 0
    assert not (tmp_path / f"orphan{SUFFIX}").exists()
    assert decide(tmp_path, tmp_path / "kernel.json", {}, ("alpha",), SUFFIX).describe() == "compiled (Cython 9.9)"


def test_a_source_edited_during_the_build_leaves_no_manifest(
        script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(jobs: int) -> str:
        (tmp_path / f"alpha{SUFFIX}").write_bytes(b"new build")
        (tmp_path / "alpha.py").write_text("NAME = 'edited while compiling'\n")
        return "9.9"

    monkeypatch.setattr(script, "compile_modules", build)
    assert script.main(["--jobs", "1"]) == 1
    assert not (tmp_path / "kernel.json").exists()


def test_jobs_below_one_is_refused_naming_the_option(script: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        script.main(["--jobs", "0"])
    assert exit_.value.code == 2
    assert "--jobs must be 1 or more, got 0" in capsys.readouterr().err


def test_a_rebuilt_file_gets_a_new_inode_so_a_process_that_loaded_the_old_one_keeps_it_intact(
        script: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / f"alpha{SUFFIX}"
    new = tmp_path / "new build"
    new.write_bytes(b"new build")
    before = target.stat().st_ino
    with target.open("rb") as loaded:  # as a process that has the old build mapped
        script.install_file(new, target)
        assert loaded.read() == b"old build"
    assert target.read_bytes() == b"new build" and target.stat().st_ino != before
    assert not list(tmp_path.glob(".*.partial"))


def test_a_removed_extension_file_is_loaded_from_source_even_when_the_kernel_was_judged_compiled(
        tmp_path: Path) -> None:
    from riskmgr.backtest.kernel import KernelFinder, KernelMode

    (tmp_path / "alpha.py").write_text("NAME = 'alpha'\n")
    finder = KernelFinder(KernelMode(True, "Cython"), tmp_path, "pkg", ("alpha",), SUFFIX)
    spec = finder.find_spec("pkg.alpha")
    assert spec is not None and spec.origin == str(tmp_path / "alpha.py")
