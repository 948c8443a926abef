"""A cold cache build (issue 16, part 4): worker processes read runs and write them into a
build file that becomes the cache only when whole. A build killed with SIGKILL is never
served half-filled, a stale WAL is never replayed into a new cache, hostile fetched runs
are still refused, and big syncs of a live cache written by the workers replace rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _trust_helpers import make_tree, plumb, tree_entries
from conftest import git, gitruns_cli

import gitruns
from gitruns.query import build_file, cache
from gitruns.recording.repository import open_store
from gitruns.runs.annotate import set_tags

REMOTE = "refs/remote-runs/team/"


def record(name: str, **params: Any) -> str:
    with gitruns.start_run(name=name, params=params) as run:
        run.log_metric("acc", float(params.get("acc", 0.5)))
        run.log_metric("loss", 1.0)
    return run.id


def cache_file(repo: Path) -> Path:
    return repo / ".git" / "gitruns" / "cache.sqlite"


def build_files(repo: Path) -> list[str]:
    tmp = repo / ".git" / "gitruns" / "tmp"
    names = [p.name for p in tmp.iterdir()] if tmp.is_dir() else []
    return sorted(name for name in names if name.startswith(build_file.BUILD_PREFIX))


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = ("runs", "metric_values", "param_values")
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path of a 100,000-run build at test size: batches of 2, worker processes."""
    monkeypatch.setattr(cache, "BATCH_RUNS", 2)
    monkeypatch.setattr(cache, "PARALLEL_MIN_RUNS", 3)


def test_a_cold_build_installs_a_whole_file_and_leaves_nothing_behind(
    repo: Path, workers: None
) -> None:
    ids = [record(f"r{i}", lr=0.1 * i, layers=i) for i in range(7)]
    snapshot = cache.sync(open_store())
    assert sorted(row.run_id for row in snapshot.runs()) == sorted(ids)
    assert counts(cache_file(repo)) == {"runs": 7, "metric_values": 14, "param_values": 14}
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (cache.CACHE_SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"runs_run_id", "runs_errors"} <= indexes
    assert not any(name.startswith(build_file.BUILD_PREFIX) for name in build_files(repo))
    query = ["--filter", "params.layers >= 5", "--format", "csv", "-c", "name"]
    listed = gitruns_cli(repo, "ls", *query)
    assert listed.returncode == 0 and listed.stdout.split()[1:] == ["r6", "r5"]


_KILL_MID_BUILD = """
import os, signal, sys
from gitruns.query import cache
from gitruns.recording.repository import open_store
cache.BATCH_RUNS = 2
cache.PARALLEL_MIN_RUNS = 3 if sys.argv[1] == "workers" else 10**9
original = cache._write
def write_then_die(db, rows, gone, **kw):
    written = original(db, rows, gone, **kw)
    if written:  # a batch is in the build file: kill the whole command, workers and all
        os.killpg(0, signal.SIGKILL)
    return written
cache._write = write_then_die
cache.sync(open_store())
print("not killed")
"""


@pytest.mark.parametrize("how", ["serial", "workers"])
def test_a_build_killed_mid_way_is_never_served(repo: Path, how: str) -> None:
    for i in range(6):
        record(f"r{i}")
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_MID_BUILD), how],
        cwd=repo,
        capture_output=True,
        text=True,
        start_new_session=True,  # its own process group, which it kills
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not cache_file(repo).exists()  # the half-built file was never put in place
    (left,) = build_files(repo)
    abandoned = repo / ".git" / "gitruns" / "tmp" / left
    with sqlite3.connect(abandoned) as db:  # it did hold part of the runs
        assert 0 < db.execute("SELECT count(*) FROM runs").fetchone()[0] < 6
    old = time.time() - 2 * build_file.ABANDONED_AGE_S
    os.utime(abandoned, (old, old))
    listed = gitruns_cli(repo, "ls", "--format", "csv", "-c", "name")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()[1:]) == [f"r{i}" for i in range(6)]
    assert counts(cache_file(repo))["runs"] == 6
    assert build_files(repo) == []  # the abandoned build was removed


def test_a_build_file_in_use_or_brand_new_is_not_removed(repo: Path) -> None:
    target = cache_file(repo)
    target.parent.mkdir(parents=True)
    live = build_file.BuildFile.create(target)
    young = target.parent / "tmp" / f"{build_file.BUILD_PREFIX}young{build_file.BUILD_SUFFIX}"
    young.write_bytes(b"")
    old = time.time() - 2 * build_file.ABANDONED_AGE_S
    os.utime(live.path, (old, old))
    assert build_file.remove_abandoned(target.parent / "tmp") == 0
    assert live.path.exists() and young.exists()
    live.abandon()
    assert not live.path.exists()


def test_a_stale_wal_is_not_replayed_into_a_new_cache(repo: Path) -> None:
    for i in range(4):
        record(f"r{i}")
    store = open_store()
    cache.sync(store)
    path = cache_file(repo)
    wal = Path(f"{path}-wal")
    # A WAL that deletes every row, left behind by a cache deleted while in use.
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("DELETE FROM runs")
    stale = wal.read_bytes()
    db.close()
    cache.discard(path)
    wal.write_bytes(stale)
    assert len(cache.sync(store).runs()) == 4
    assert not wal.exists() or wal.read_bytes() != stale
    assert counts(path)["runs"] == 4
    assert len(cache.sync(store).runs()) == 4  # read back from the file


def _hostile_copy(repo: Path, run_id: str) -> str:
    """A fetched copy of a run whose tree also holds a symlink."""
    commit = git(repo, "rev-parse", f"refs/runs/{run_id}").strip()
    link = plumb(repo, "hash-object", "-w", "--stdin", data=b"/etc/passwd")
    entries = [*tree_entries(repo, commit), ("120000", "blob", link, "evil")]
    bad = plumb(repo, "commit-tree", make_tree(repo, entries), "-m", "hostile")
    git(repo, "update-ref", f"{REMOTE}{run_id}", bad)
    return bad


def test_workers_refuse_a_hostile_fetched_run(repo: Path, workers: None) -> None:
    ids = [record(f"r{i}") for i in range(5)]
    bad = _hostile_copy(repo, ids[2])
    snapshot = cache.sync(open_store())
    assert [ref for ref, _ in snapshot.problems] == [f"{REMOTE}{ids[2]}"]
    assert "symlink" in snapshot.problems[0][1]
    with sqlite3.connect(cache_file(repo)) as db:
        row = db.execute("SELECT error, record FROM runs WHERE ref = ?", (f"{REMOTE}{ids[2]}",))
        error, record_json = row.fetchone()
    assert "symlink" in error and record_json is None
    assert cache.cached_run(open_store(), f"{REMOTE}{ids[2]}", bad) is None
    listed = gitruns_cli(repo, "ls", "--all", "--format", "csv", "-c", "name")
    assert listed.returncode == 0 and f"skipping {REMOTE}{ids[2]}" in listed.stderr


@pytest.mark.parametrize("parallel", [True, False])
def test_a_filtered_cold_build_reports_invalid_runs_it_did_not_select(
    repo: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """A cold build with a filter selects back the matches and the invalid rows it wrote
    (by ref, not by reading the whole table): a hostile run outside the filter is still
    reported, and the runs outside the filter are in the cache."""
    monkeypatch.setattr(cache, "BATCH_RUNS", 2)
    monkeypatch.setattr(cache, "PARALLEL_MIN_RUNS", 3 if parallel else 1_000)
    ids = [record(f"r{i}", layers=i) for i in range(6)]
    _hostile_copy(repo, ids[1])
    where = ("ref IN (SELECT ref FROM param_values WHERE key = ? AND num >= ?)", ["layers", 4])
    snapshot = cache.sync(open_store(), where)
    assert [ref for ref, _ in snapshot.problems] == [f"{REMOTE}{ids[1]}"]
    assert sorted(row.name for row in snapshot.runs()) == ["r4", "r5"]
    assert counts(cache_file(repo))["runs"] == 7
    warm = cache.sync(open_store(), where)  # the same answer from the file
    assert [ref for ref, _ in warm.problems] == [f"{REMOTE}{ids[1]}"]
    assert sorted(row.name for row in warm.runs()) == ["r4", "r5"]


def test_workers_replace_changed_rows_of_a_live_cache(repo: Path, workers: None) -> None:
    ids = [record(f"r{i}", lr=0.1) for i in range(4)]
    store = open_store()
    cache.sync(store)
    for run_id in ids[:3]:
        set_tags(store, run_id, {"seen": "yes"})
    ids += [record(f"n{i}", lr=0.2) for i in range(3)]
    snapshot = cache.sync(store)  # 6 stale refs: written by the workers into the live file
    tagged = sorted(row.name for row in snapshot.runs() if row.tags.get("seen") == "yes")
    assert tagged == ["r0", "r1", "r2"]
    assert counts(cache_file(repo)) == {"runs": 7, "metric_values": 14, "param_values": 7}
    again = cache.sync(store)
    assert sorted(row.name for row in again.runs() if row.tags) == ["r0", "r1", "r2"]


def test_workers_forked_before_the_refs_are_listed_build_the_cache(
    repo: Path, workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not cache._parallel(cache.PARALLEL_MIN_RUNS):
        pytest.skip("one CPU: a build has no worker processes")
    ids = [record(f"r{i}", layers=i) for i in range(6)]
    git(repo, "pack-refs", "--all")  # what gitruns gc leaves: the guess sees packed runs
    forked: list[cache.Workers] = []
    original = cache.Workers.before_a_big_build.__func__  # type: ignore[attr-defined]

    def watching(cls: type[cache.Workers], store: Any, path: Path) -> cache.Workers | None:
        found = original(cls, store, path)
        forked.extend([found] if found is not None else [])
        return found

    monkeypatch.setattr(cache.Workers, "before_a_big_build", classmethod(watching))
    snapshot = cache.sync(open_store())
    assert len(forked) == 1 and forked[0].count >= 1
    assert sorted(row.run_id for row in snapshot.runs()) == sorted(ids)
    assert counts(cache_file(repo)) == {"runs": 6, "metric_values": 12, "param_values": 6}
    assert cache.sync(open_store()).problems == []
    assert len(forked) == 1  # a cache file exists: nothing forked ahead any more


def test_batches_cover_every_run_in_order_the_last_ones_smaller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache, "BATCH_RUNS", 10)
    items = [(f"refs/runs/{i:04d}", ("", "local", "")) for i in range(97)]
    batches = list(cache._batches(items, 1))
    assert [item for batch in batches for item in batch] == items
    sizes = [len(batch) for batch in batches]
    assert sizes[:5] == [10] * 5 and max(sizes[5:]) == 2  # the last 2 * 2 batches in five


def test_a_build_file_has_16_kib_pages_and_a_finished_build_the_fingerprint(
    repo: Path, workers: None
) -> None:
    for i in range(5):
        record(f"r{i}", lr=0.1 * i)
    then = time.time() - 60  # refs older than a racy stat: the fingerprint is recorded
    for folder, _, files in os.walk(repo / ".git" / "refs"):
        for path in [folder, *(os.path.join(folder, name) for name in files)]:
            os.utime(path, (then, then))
    cache.sync(open_store())
    with sqlite3.connect(cache_file(repo)) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (build_file.BUILD_PAGE_BYTES,)
        assert db.execute("SELECT count(*) FROM ref_state").fetchone() == (1,)


def test_pack_windows_are_a_quarter_of_the_mapped_cap_and_put_back() -> None:
    import pygit2

    from gitruns.storage import limit_mapped_packs

    window = pygit2.settings.mwindow_size
    previous = limit_mapped_packs(16 << 20)
    try:
        assert pygit2.settings.mwindow_size == 4 << 20
        assert pygit2.settings.mwindow_mapped_limit == 16 << 20
    finally:
        limit_mapped_packs(previous)
    assert pygit2.settings.mwindow_size == window


def test_workers_get_more_work_before_this_process_reads_a_batch_of_its_own() -> None:
    """Finished batches are taken out wherever they are in the queue, and the queue is
    filled up again at once: a worker that finished its two batches must not wait for
    this process to finish one of its own before getting the next."""
    from collections import deque
    from concurrent.futures import Future

    sent: list[int] = []

    def submit(chunk: int) -> Future[Any]:
        sent.append(chunk)
        return Future()

    remaining: deque[int] = deque(range(10))
    pending: deque[Future[Any]] = deque()
    assert cache._collect_and_top_up(pending, remaining, 2, submit) == []
    assert sent == [0, 1] and len(pending) == 2
    first, second = pending
    second.set_result("second")  # finished out of order: still taken out
    done = cache._collect_and_top_up(pending, remaining, 2, submit)
    assert done == [second] and pending[0] is first and sent == [0, 1, 2]
    first.set_result("first")
    third = pending[1]
    third.set_result("third")
    assert cache._collect_and_top_up(pending, remaining, 2, submit) == [first, third]
    assert len(pending) == 2 and sent == [0, 1, 2, 3, 4]
    remaining.clear()
    assert cache._collect_and_top_up(pending, remaining, 2, submit) == []
    assert len(pending) == 2  # nothing left to send: the two still running stay
