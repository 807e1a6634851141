"""The committed migrations build exactly the schema the models describe."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_create_every_table_of_the_models(tmp_path):
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url(tmp_path, "m"),
           "FLASK_APP": "app"}
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    check = subprocess.run([flask, "db", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
