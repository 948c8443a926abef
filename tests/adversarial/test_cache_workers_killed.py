"""An adversarial pass over the forked workers of a big sync (gitruns.query.forked) when
they write into the LIVE cache file (an incremental sync, not a cold build): a worker
killed with SIGKILL before it writes, in the middle of its transaction (just before
COMMIT) or after it committed but before it answered. The command fails plainly, and the
next ``gitruns ls`` gives exactly the rows a fresh build gives; the file stays whole."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import fsck, gitruns_cli

import gitruns
from gitruns.query import cache
from gitruns.recording.repository import open_store
from gitruns.runs.annotate import set_tags


def record(name: str, **params: float) -> str:
    with gitruns.start_run(name=name, params=params) as run:
        run.log_metric("acc", 0.5)
    return run.id


def cache_file(repo: Path) -> Path:
    return repo / ".git" / "gitruns" / "cache.sqlite"


_KILL_A_WORKER = """
import os, signal, sys
from gitruns.errors import GitrunsError
from gitruns.query import cache
from gitruns.recording.repository import open_store
cache.BATCH_RUNS = 2
cache.PARALLEL_MIN_RUNS = 3
parent = os.getpid()
original = cache._write
def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)
def killing_write(db, rows, gone, **kw):
    if os.getpid() == parent or not rows:
        return original(db, rows, gone, **kw)
    when = sys.argv[1]
    if when == "before writing":
        die()
    if when == "before COMMIT":
        db.set_trace_callback(lambda sql: die() if sql == "COMMIT" else None)
    written = original(db, rows, gone, **kw)
    die()  # "after COMMIT": written, never answered
cache._write = killing_write
try:
    cache.sync(open_store())
except GitrunsError as exc:
    print(exc)
else:
    print("no worker was killed")
"""


def _listing(repo: Path) -> list[dict[str, object]]:
    listed = gitruns_cli(repo, "ls", "--format", "json", "--all")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    return sorted(json.loads(listed.stdout), key=lambda run: str(run["id"]))


@pytest.mark.skipif(not cache._parallel(cache.PARALLEL_MIN_RUNS), reason="one CPU: no workers")
@pytest.mark.parametrize("when", ["before writing", "before COMMIT", "after COMMIT"])
def test_a_worker_killed_writing_the_live_cache_leaves_rows_a_fresh_build_gives(
    repo: Path, when: str
) -> None:
    ids = [record(f"r{i}", lr=0.1) for i in range(6)]
    store = open_store()
    cache.sync(store)  # the live cache
    for run_id in ids[:4]:
        set_tags(store, run_id, {"seen": "yes"})
    ids += [record(f"n{i}", lr=0.2) for i in range(4)]
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_A_WORKER), when],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == 0, killed.stderr
    assert "a worker process reading runs into the cache died" in killed.stdout
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    after_kill = _listing(repo)
    assert after_kill == _listing(repo)  # the same when served warm
    cache_file(repo).unlink()
    fresh = _listing(repo)
    assert after_kill == fresh
    assert sorted(str(run["name"]) for run in fresh) == sorted(
        [f"r{i}" for i in range(6)] + [f"n{i}" for i in range(4)]
    )
    assert sum(1 for run in fresh if run.get("tags") == {"seen": "yes"}) == 4
    fsck(repo)
