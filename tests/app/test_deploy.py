"""Deploy settings: Procfile (PORT, release, worker), Replit, Python pin, DATABASE_URL spellings via create_app."""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy

from riskmgr import create_app
from riskmgr.app.config import Settings
from riskmgr.persistence.extensions import db
from tests.conftest import database_url
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_procfile_web_runs_gunicorn_on_all_interfaces_at_the_platform_port():
    web = shlex.split(procfile()["web"])
    assert web[0] == "gunicorn" and web[-1] == "wsgi:app"
    assert web[web.index("--bind") + 1] == "0.0.0.0:$PORT"


def test_procfile_release_upgrades_the_database_with_the_flask_app_named():
    assert shlex.split(procfile()["release"]) == ["FLASK_APP=app", "flask", "db", "upgrade"]


def test_procfile_scheduler_runs_the_jobs_even_when_web_dynos_have_them_switched_off():
    assert shlex.split(procfile()["scheduler"]) == [
        "SCHEDULER_ENABLED=true", "FLASK_APP=app", "flask", "scheduler", "run"]


def test_procfile_worker_and_beat_run_celery_on_the_app_s_celery_application():
    worker, beat = shlex.split(procfile()["worker"]), shlex.split(procfile()["beat"])
    assert worker[:4] == ["celery", "-A", "riskmgr.workers.celery_app", "worker"]
    assert beat[:4] == ["celery", "-A", "riskmgr.workers.celery_app", "beat"]


def _get(url: str) -> tuple[int, dict[str, str]] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a fixed http://127.0.0.1 URL)
            return response.status, dict(response.headers)
    except OSError:
        return None


@pytest.mark.slow
def test_procfile_release_then_web_serve_the_app_on_port(tmp_path):
    port = free_port()
    env = {
        **os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PORT": str(port),
        "DATABASE_URL": database_url(tmp_path, "deploy"), "INSTANCE_PATH": str(tmp_path / "instance"),
        "RISKMGR_ADMIN_PASSWORD": "harbor velvet quartz sparrow", "SCHEDULER_ENABLED": "false", "WEB_CONCURRENCY": "1",
    }
    env.pop("FLASK_APP", None)  # the Procfile must name it itself
    release = subprocess.run(["sh", "-c", procfile()["release"]], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert release.returncode == 0, release.stderr[-2000:]
    web = subprocess.Popen(["sh", "-c", "exec " + procfile()["web"]], cwd=ROOT, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and web.poll() is None:
            answer = _get(f"http://127.0.0.1:{port}/health")
            time.sleep(0.25)
        if answer is None:
            os.killpg(web.pid, signal.SIGTERM)
            pytest.fail("gunicorn never answered on $PORT:\n" + web.communicate(timeout=30)[1].decode()[-3000:])
        status, headers = answer
        assert status == 200
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def test_python_version_pins_agree_with_each_other_and_the_interpreter():
    pinned = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", pinned)
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}"
    runtime_txt = ROOT / "runtime.txt"
    if runtime_txt.exists():  # deprecated on Heroku in favour of .python-version; must not disagree while it exists
        assert runtime_txt.read_text(encoding="utf-8").strip().startswith(f"python-{pinned}.")


def test_replit_runs_what_make_run_does_bound_to_all_interfaces_at_port():
    config = tomllib.loads((ROOT / ".replit").read_text(encoding="utf-8"))
    expected = ["sh", "-c", "make run HOST=0.0.0.0 PORT=${PORT:-8080}"]
    assert config["run"] == expected
    assert config["deployment"]["run"] == expected
    assert config["deployment"]["deploymentTarget"] == "vm"  # the poller needs an always-on process
    assert config["ports"][0]["localPort"] == 8080


def test_make_run_serves_gunicorn_with_the_given_host_and_port():
    dry = subprocess.run(["make", "-n", "run", "HOST=0.0.0.0", "PORT=4321"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "flask db upgrade" in dry.stdout
    assert re.search(r"HOST=0\.0\.0\.0 PORT=4321 \S*gunicorn --config gunicorn\.conf\.py wsgi:app", dry.stdout)


def test_gunicorn_config_binds_host_and_port_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")  # noqa: S104 (what the platforms need)
    monkeypatch.setenv("PORT", "4321")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:4321"


def test_heroku_button_manifest_asks_only_for_settings_the_app_reads():
    manifest = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "riskmgr").rglob("*.py"))
    for name in manifest["env"]:
        assert f'"{name}"' in source, f"app.json asks for {name}, which riskmgr never reads"
    assert manifest["env"]["RISKMGR_ADMIN_PASSWORD"]["required"] is True
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    assert [b["url"] for b in manifest["buildpacks"]] == ["heroku/nodejs", "heroku/python"]
    assert manifest["addons"][0]["plan"].startswith("heroku-postgresql")
    # the web dyno runs the scheduler by default; Celery (worker, beat) only with REDIS_URL
    assert {manifest["formation"][k]["quantity"] for k in ("scheduler", "worker", "beat")} == {0}


# --- DATABASE_URL through create_app -------------------------------------------------------------------
def _app_from_env(env: dict[str, str]):
    return create_app(Settings.from_env(env).with_changes(testing=True))


def test_without_database_url_the_app_uses_sqlite_in_the_instance_folder(tmp_path):
    app = _app_from_env({"INSTANCE_PATH": str(tmp_path / "inst")})
    with app.app_context():
        db.create_all()
        assert Path(db.engine.url.database) == tmp_path / "inst" / "riskmgr.db"
        db.engine.dispose()
    assert (tmp_path / "inst" / "riskmgr.db").exists()


def test_a_sqlite_database_url_is_used_as_given(tmp_path):
    app = _app_from_env({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    assert (tmp_path / "x.db").exists()
    assert not (tmp_path / "inst" / "riskmgr.db").exists()


@pytest.mark.parametrize("given", ["postgres://user:pw@db.example.com:5432/riskmgr",
                                   "postgresql://user:pw@db.example.com:5432/riskmgr"])
def test_heroku_postgres_url_reaches_the_engine_in_sqlalchemys_spelling(tmp_path, monkeypatch, given):
    # No PostgreSQL driver or server is needed to see which URL the app hands to SQLAlchemy: record it and
    # build the engine on SQLite instead.
    seen = []
    real = sqlalchemy.engine_from_config

    def record(options, prefix=""):
        seen.append(str(options["url"]))
        return real({**options, "url": f"sqlite:///{tmp_path / 'stand-in.db'}"}, prefix=prefix)

    monkeypatch.setattr(sqlalchemy, "engine_from_config", record)
    app = _app_from_env({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE_URL": given})
    with app.app_context():
        db.engine.dispose()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql://user:pw@db.example.com:5432/riskmgr"
    assert seen == ["postgresql://user:pw@db.example.com:5432/riskmgr"]
