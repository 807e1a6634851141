"""The session key file under instance/ appears whole or not at all, and every worker reads the same key."""

from __future__ import annotations

import multiprocessing
import stat

import pytest

from riskmgr.app.factory import _instance_secret, read_secret_file
from riskmgr.core.errors import ConfigError

ROUNDS, WORKERS = 20, 6


def _start_worker(folders: list[str], barrier, out) -> None:  # runs in a fresh (spawned) process
    from pathlib import Path

    from riskmgr.app.factory import _instance_secret as secret

    for n, folder in enumerate(folders):  # one import, many races: each round all workers start together
        barrier.wait(60)
        try:
            out.put((n, secret(Path(folder))))
        except Exception as exc:  # reported to the test, which fails on it
            out.put((n, f"error: {exc!r}"))


@pytest.mark.slow
def test_worker_processes_starting_at_once_on_an_empty_instance_folder_share_one_whole_key(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
    folders = [tmp_path / f"instance{n}" for n in range(ROUNDS)]
    for folder in folders:
        folder.mkdir()
    workers = [ctx.Process(target=_start_worker, args=([str(f) for f in folders], barrier, out))
               for _ in range(WORKERS)]
    for w in workers:
        w.start()
    keys: dict[int, set[str]] = {}
    for _ in range(ROUNDS * WORKERS):
        n, key = out.get(timeout=120)
        keys.setdefault(n, set()).add(key)
    for w in workers:
        w.join(30)
    for n, folder in enumerate(folders):
        assert len(keys[n]) == 1, keys[n]
        (key,) = keys[n]
        assert len(key) == 64 and not key.startswith("error")
        assert sorted(p.name for p in folder.iterdir()) == ["secret_key"]  # no temporary file left behind


def test_threads_racing_on_fresh_folders_never_read_an_empty_or_different_key(tmp_path):
    import threading

    for round_ in range(100):  # the old create-then-write lost this race in most rounds
        folder = tmp_path / str(round_)
        folder.mkdir()
        barrier, keys = threading.Barrier(8), []

        def start(folder=folder, barrier=barrier, keys=keys):
            barrier.wait()
            keys.append(_instance_secret(folder))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64


def test_the_key_file_is_private_and_read_back_on_the_next_start(tmp_path):
    first = _instance_secret(tmp_path)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert _instance_secret(tmp_path) == first


@pytest.mark.parametrize("content", ["", "\n", "short"])
def test_an_empty_or_short_key_file_is_an_error_naming_its_path(tmp_path, content):
    path = tmp_path / "secret_key"
    path.write_text(content)
    with pytest.raises(ConfigError, match="secret_key"):
        _instance_secret(tmp_path)
    with pytest.raises(ConfigError, match=str(path)):
        read_secret_file(path)


def test_a_new_instance_folder_is_created_private(tmp_path):
    from riskmgr import create_app
    from tests.conftest import make_settings

    create_app(make_settings(tmp_path, secret_key=None))
    assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700
