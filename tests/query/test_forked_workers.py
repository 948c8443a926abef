"""A cold build's worker processes, forked with os.fork and fed through pipes
(gitruns.query.forked): answers and errors come back, big jobs do not block, and a dead
process, worker or parent, never leaves the other waiting for ever nor a cache half-built."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import gitruns_cli
from test_cache_build import build_files, cache_file, counts, record

from gitruns.errors import InvalidInputError
from gitruns.query import forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


def _echo(tag: str, payload: bytes) -> tuple[str, int, int]:
    return tag, len(payload), os.getpid()


def _fail(kind: str) -> None:
    if kind == "gitruns":
        raise InvalidInputError("bad input", "say it again")
    raise ValueError(kind)


def _die(_: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _gone(pid: int) -> bool:
    """The process exited (a zombie nobody reaped counts: it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_jobs_and_answers_bigger_than_a_pipe_come_back_in_order() -> None:
    pool = forked.ForkedWorkers(2, _echo)
    try:
        payload = os.urandom(300_000)  # a pipe holds 64 KiB: the job is read as it comes
        jobs = [pool.submit(f"job{i}", payload) for i in range(6)]  # three at each worker
        answers = [job.result() for job in jobs]
    finally:
        pool.close()
    assert [tag for tag, _, _ in answers] == [f"job{i}" for i in range(6)]
    assert {size for _, size, _ in answers} == {300_000}
    pids = {pid for _, _, pid in answers}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(_gone(pid) for pid in pids)  # closed: exited and reaped


def test_an_error_in_a_worker_is_raised_here_with_its_type() -> None:
    pool = forked.ForkedWorkers(1, _fail)
    try:
        with pytest.raises(ValueError, match="odd"):
            pool.submit("odd").result()
        with pytest.raises(InvalidInputError, match="bad input"):
            pool.submit("gitruns").result()
    finally:
        pool.close()


def test_a_killed_worker_is_reported_not_waited_for() -> None:
    pool = forked.ForkedWorkers(1, _die)
    pid = pool._workers[0].pid
    try:
        job = pool.submit("x")
        with pytest.raises(forked.BrokenWorkers, match=str(pid)):
            job.result()
    finally:
        pool.close()
    assert _gone(pid)


def _die_holding_the_lock(_: str) -> None:
    _LOCK["lock"].acquire()
    os.kill(os.getpid(), signal.SIGKILL)


_LOCK: dict[str, forked.TokenLock] = {}


def _keep_lock(lock: forked.TokenLock) -> None:
    _LOCK["lock"] = lock


def test_a_worker_killed_holding_the_lock_does_not_leave_this_process_waiting() -> None:
    pool = forked.ForkedWorkers(1, _die_holding_the_lock, _keep_lock)
    pid = pool._workers[0].pid
    try:
        pool.submit("x")
        deadline = time.monotonic() + 30
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # it dies only once it holds the token
        # The token never comes back: the dead worker's pipe says so.
        with pytest.raises(forked.BrokenWorkers), pool.lock:
            pass
    finally:
        pool.close()


def test_the_lock_is_taken_by_one_process_at_a_time(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pool = forked.ForkedWorkers(2, _append_under_lock, _keep_lock)
    try:
        jobs = [pool.submit(str(log), tag) for tag in "ab" * 4]
        for _ in range(4):
            with pool.lock:
                _append(log, "p")
        for job in jobs:
            job.result()
    finally:
        pool.close()
    text = log.read_text()
    assert len(text) == 2 * 12  # every holder wrote both of its marks before another's
    assert all(text[i] == text[i + 1] for i in range(0, len(text), 2)), text


def _append(path: Path, tag: str) -> None:
    with open(path, "a") as file:
        file.write(tag)
    time.sleep(0.005)  # another process would slip in here without the lock
    with open(path, "a") as file:
        file.write(tag)


def _append_under_lock(path: str, tag: str) -> None:
    with _LOCK["lock"]:
        _append(Path(path), tag)


_KILL_A_WORKER = """
import os, signal, sys
from gitruns.errors import GitrunsError
from gitruns.query import cache
from gitruns.recording.repository import open_store
cache.BATCH_RUNS = 2
cache.PARALLEL_MIN_RUNS = 3
parent = os.getpid()
original = cache._write
def die_in_a_worker(db, rows, gone, *, lock=None, **kw):
    if os.getpid() != parent:
        if sys.argv[1] == "holding the lock":
            lock.acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    return original(db, rows, gone, lock=lock, **kw)
cache._write = die_in_a_worker
try:
    cache.sync(open_store())
except GitrunsError as exc:
    print(exc)
"""


@pytest.mark.parametrize("when", ["reading", "holding the lock"])
def test_a_worker_killed_in_a_cold_build_is_an_error_and_no_cache(repo: Path, when: str) -> None:
    for i in range(8):
        record(f"r{i}")
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_A_WORKER), when],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,  # a wait for ever would fail here
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "a worker process reading runs into the cache died" in run.stdout
    assert not cache_file(repo).exists()  # nothing half-built was put in place
    assert build_files(repo) == []  # the build file was dropped
    listed = gitruns_cli(repo, "ls", "--format", "csv", "-c", "name")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()[1:]) == [f"r{i}" for i in range(8)]
    assert counts(cache_file(repo))["runs"] == 8


_KILL_THE_PARENT = """
import os, signal, sys
from gitruns.query import cache
from gitruns.recording.repository import open_store
cache.BATCH_RUNS = 2
cache.PARALLEL_MIN_RUNS = 3
parent = os.getpid()
original_init = cache.Workers.__init__
def init(self, count):
    original_init(self, count)
    with open(sys.argv[1], "w") as file:
        file.write(" ".join(str(worker.pid) for worker in self.pool._workers))
cache.Workers.__init__ = init
original = cache._write
def die_here(db, rows, gone, **kw):
    if os.getpid() == parent:
        if sys.argv[2] == "holding the lock":
            kw["lock"].acquire()
        os.kill(parent, signal.SIGKILL)
    return original(db, rows, gone, **kw)
cache._write = die_here
cache.sync(open_store())
"""


@pytest.mark.parametrize("when", ["writing", "holding the lock"])
def test_workers_end_when_the_command_is_killed(repo: Path, tmp_path: Path, when: str) -> None:
    for i in range(8):
        record(f"r{i}")
    pids_file, err = tmp_path / "pids", tmp_path / "stderr"
    with open(err, "w") as stderr:  # not a pipe: the workers hold it too
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_KILL_THE_PARENT), str(pids_file), when],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            timeout=120,
            check=False,
        )
    assert run.returncode == -signal.SIGKILL, err.read_text()
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert pids
    try:
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in pids)  # none waits for work or the lock for ever
    finally:
        for pid in pids:  # this test's own processes, should they outlive it
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert not cache_file(repo).exists()
    listed = gitruns_cli(repo, "ls", "--format", "csv", "-c", "name")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()[1:]) == [f"r{i}" for i in range(8)]


def test_a_build_flushed_early_is_still_fsynced_whole_before_it_is_linked(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``flush_early`` starts an fsync while the indexes are made; ``install`` waits for it
    and fsyncs again after the last pages, and only then links the file in."""
    from gitruns.query import build_file, cache
    from gitruns.recording.repository import open_store

    monkeypatch.setattr(cache, "BATCH_RUNS", 2)
    monkeypatch.setattr(cache, "PARALLEL_MIN_RUNS", 3)
    for i in range(5):
        record(f"r{i}")
    events: list[str] = []
    real_fsync, real_link = os.fsync, build_file._link

    def fsync(fd: int) -> None:
        real_fsync(fd)
        events.append("fsync")

    def link(path: Path, target: Path) -> bool:
        events.append("link")
        return real_link(path, target)

    monkeypatch.setattr(build_file.os, "fsync", fsync)
    monkeypatch.setattr(build_file, "_link", link)
    snapshot = cache.sync(open_store())
    assert len(snapshot.runs()) == 5
    # the early one, then install's after every write, then the link
    assert events == ["fsync", "fsync", "link"]
    assert counts(cache_file(repo))["runs"] == 5
    assert build_files(repo) == []


def test_the_last_batches_shrink_so_no_process_waits_long_at_the_end() -> None:
    from gitruns.query import cache

    items = [(f"refs/runs/{i:05d}", ("", "local", "")) for i in range(10_000)]
    batches = list(cache._batches(items, 1))
    assert [item for batch in batches for item in batch] == items
    sizes = [len(batch) for batch in batches]
    full = sizes.count(cache.BATCH_RUNS)
    assert sizes[:full] == [cache.BATCH_RUNS] * full
    assert sizes[full:] == sorted(sizes[full:], reverse=True)  # smaller and smaller
    assert max(sizes[-3:]) <= max(cache.BATCH_RUNS // 20, 1)  # the last: a few ms each
    assert len(batches) <= len(items) // cache.BATCH_RUNS + 25  # each batch costs its own
