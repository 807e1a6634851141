"""What a web worker loads: the app runs without the migration tooling, and the runtime needs no test tooling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "hypothesis", "responses", "ruff", "playwright"}


def test_building_the_app_imports_neither_the_migration_tooling_nor_the_kernel_build_tools(tmp_path):
    code = (
        "import sys; from riskmgr import create_app; create_app(); "
        "print(sorted(m for m in ('alembic', 'flask_migrate', 'Cython', 'setuptools') if m in sys.modules))"
    )
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}", "INSTANCE_PATH": str(tmp_path / "instance"),
           "PATH": "/usr/bin:/bin", "SCHEDULER_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)

    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_flask_db_commands_still_load_the_migration_tooling(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}", "INSTANCE_PATH": str(tmp_path / "instance"),
           "PATH": "/usr/bin:/bin", "FLASK_APP": "app", "SCHEDULER_ENABLED": "false"}
    flask = str(Path(sys.executable).parent / "flask")

    out = subprocess.run([flask, "db", "heads"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)

    assert "(head)" in out.stdout


def _names(path: Path) -> set[str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return {line.split("==")[0].lower() for line in lines if line and not line.startswith(("#", "-r"))}


def test_the_runtime_requirements_carry_no_test_tooling_and_the_dev_ones_extend_them():
    runtime, dev = _names(ROOT / "requirements.txt"), _names(ROOT / "requirements-dev.txt")

    assert not runtime & TEST_TOOLS
    assert dev >= TEST_TOOLS
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
