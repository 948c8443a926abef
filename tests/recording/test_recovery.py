"""Crash durability (kill -9) and concurrent writers, with real processes and real git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _store_helpers import run_child, run_refs, staging_dirs, start_child
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.recording.repository import open_store

VICTIM = """
run = gitruns.start_run(name="victim", params={"lr": 0.1}, tags={"model": "mlp"})
for step in range(500):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.log_metric("val/acc", step / 500.0, step=step)
gitruns.log_param("layers", 3)
gitruns.set_tag("stage", "dev")
gitruns.note("started fine")
print("ready", run.id, flush=True)
time.sleep(120)
"""


def kill_when_ready(child: subprocess.Popen[str], settle: float = 1.5) -> str:
    """Wait for the child's "ready" line, give its flusher time, then SIGKILL it."""
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if not line or line[0] != "ready":
        child.kill()
        _out, err = child.communicate()
        raise AssertionError(f"child did not get ready: {err}")
    time.sleep(settle)  # staged appends are flushed at least once a second
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.communicate()
    return line[1]


def test_kill_9_becomes_crashed_with_everything_flushed(repo: Path) -> None:
    run_id = kill_when_ready(start_child(repo, VICTIM))
    # the dead run is staged, and never appears as a run of its own yet
    assert run_refs(repo) == [] and staging_dirs(repo) == [run_id]
    listing = gitruns_cli(repo, "ls")
    assert listing.returncode == 0, listing.stderr
    assert "victim" in listing.stdout and "CRASHED" in listing.stdout
    assert staging_dirs(repo) == []
    loaded = gitruns.get_run(run_id)
    assert loaded.status == "CRASHED"
    assert loaded.params == {"lr": 0.1, "layers": 3}
    assert loaded.tags == {"model": "mlp", "stage": "dev"}
    assert [n["text"] for n in loaded.notes] == ["started fine"]
    assert loaded.metrics["loss"]["count"] == 500 and loaded.metrics["val/acc"]["count"] == 500
    assert loaded.metrics["loss"]["min"] == pytest.approx(1 / 500)
    assert [p.step for p in loaded.metric_history("loss")] == list(range(500))
    assert loaded.end_time is not None and loaded.end_time >= loaded.start_time
    fsck(repo)


def test_killed_while_creating_its_ref_leaves_no_stuck_lock(repo: Path) -> None:
    """A process killed inside ref creation leaves refs/runs/<id>.lock behind: recovery,
    which holds the dead owner's lock, knows nobody else writes that ref and clears it."""
    child = start_child(repo, VICTIM)
    assert child.stdout is not None
    run_id = child.stdout.readline().split()[1]
    lock = repo / ".git" / "refs" / "runs" / f"{run_id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("0" * 40 + "\n")  # what a kill between lock and rename leaves
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.communicate()
    assert gitruns.get_run(run_id).status == "CRASHED"
    assert not lock.exists()
    assert staging_dirs(repo) == []
    fsck(repo)


def test_crashed_run_seen_by_get_run(repo: Path) -> None:
    run_id = kill_when_ready(start_child(repo, VICTIM))
    assert gitruns.get_run("victim").id == run_id
    assert gitruns.get_run(run_id).status == "CRASHED"


def test_half_written_lines_are_dropped(repo: Path) -> None:
    run_id = kill_when_ready(start_child(repo, VICTIM))
    run_dir = repo / ".git" / "gitruns" / "staging" / run_id
    writer = run_dir  # the owner journals in the run's own staging folder
    with (writer / "m0.csv").open("ab") as handle:
        handle.write(b"500,17000")  # what a kill in the middle of a write leaves
    with (writer / "events.jsonl").open("ab") as handle:
        handle.write(b'{"key":"half","value":')
    assert open_store() is not None  # any gitruns call recovers
    loaded = gitruns.get_run(run_id)
    assert loaded.status == "CRASHED"
    assert loaded.metrics["loss"]["count"] == 500 and "half" not in loaded.params
    fsck(repo)


def test_live_run_is_left_alone(repo: Path) -> None:
    child = start_child(repo, VICTIM)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("ready")
        listing = gitruns_cli(repo, "ls")
        assert listing.returncode == 0
        # still running: listed as RUNNING from its staging, not finalised by others
        assert listing.stdout.splitlines()[2].split()[1:3] == ["victim", "RUNNING"]
        assert run_refs(repo) == [] and len(staging_dirs(repo)) == 1
    finally:
        child.kill()
        child.communicate()


LOOPER = """
i = 0
while True:
    with gitruns.start_run(name=f"loop-{i}") as run:
        for step in range(40):
            run.log_metric("m", float(step), step=step)
        run.log_params({"i": i, "n": 40})
    i += 1
    if i == 3:
        print("ready", run.id, flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.13, 0.29])
def test_killed_mid_stream_never_finished_when_incomplete(repo: Path, delay: float) -> None:
    """Kill a process that writes runs back to back at an arbitrary moment: every run is
    either FINISHED and complete, or CRASHED; none is half-written and FINISHED."""
    child = start_child(repo, LOOPER)
    assert child.stdout is not None
    assert child.stdout.readline().startswith("ready")
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.communicate()
    runs = gitruns.list_runs()
    # a kill while a run was being created leaves only a hidden, unannounced folder
    assert len(runs) >= 3 and [d for d in staging_dirs(repo) if not d.startswith(".new-")] == []
    for run in runs:
        if run.status == "FINISHED":
            assert run.metrics["m"]["count"] == 40 and run.params == {"i": run.params["i"], "n": 40}
        else:
            assert run.status == "CRASHED"
    assert sum(r.status == "CRASHED" for r in runs) <= 1
    fsck(repo)


def test_abandoned_start_folders_are_removed_when_old(repo: Path) -> None:
    staging = repo / ".git" / "gitruns" / "staging"
    old, young = staging / ".new-old", staging / ".new-young"
    for folder in (old, young):
        folder.mkdir(parents=True)
        (folder / "owner.lock").write_text("")
        (folder / "start.json").write_text("{}")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    (staging / ".done-01a21676-4263-70ac-a5bf-9e4ce5e1def8-123" / "w-1").mkdir(parents=True)
    open_store()
    assert staging_dirs(repo) == [".new-young"]  # a start may still be in progress
    assert run_refs(repo) == []


def test_half_deleted_staging_of_a_written_run_is_removed(repo: Path) -> None:
    """A kill while deleting a finalised run's staging folder leaves no garbage behind."""
    with gitruns.start_run() as run:
        run.log_metric("m", 1.0)
    leftover = repo / ".git" / "gitruns" / "staging" / run.id / "w-1"
    leftover.mkdir(parents=True)
    (leftover / "events.jsonl").write_text("")  # owner.lock already deleted
    open_store()
    assert staging_dirs(repo) == []
    assert gitruns.get_run(run.id).metrics["m"]["count"] == 1


WRITER = """
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
ids = []
for i in range(25):
    with gitruns.start_run(name=f"w{sys.argv[2]}-{i}", params={"i": i}) as run:
        for step in range(20):
            run.log_metric("loss", 1.0 / (step + 1))
        run.set_tag("writer", sys.argv[2])
    ids.append(run.id)
print(json.dumps(ids))
"""


def test_four_processes_writing_at_once(repo: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    children = [start_child(repo, "import json\n" + WRITER, str(go), str(n)) for n in range(4)]
    time.sleep(0.5)
    go.touch()
    written: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        written += json.loads(out)
    assert len(written) == 100 and len(set(written)) == 100
    assert sorted(run_refs(repo)) == sorted(f"refs/runs/{i}" for i in written)
    runs = gitruns.list_runs()
    assert len(runs) == 100
    assert all(r.status == "FINISHED" and r.metrics["loss"]["count"] == 20 for r in runs)
    assert staging_dirs(repo) == []
    fsck(repo)
    assert git(repo, "status", "--porcelain") == ""


NESTED_VICTIM = """
outer = gitruns.start_run(name="outer")
inner = gitruns.start_run(name="inner", nested=True)
for step in range(300):
    outer.log_metric("a", float(step))
    inner.log_metric("b", float(step))
print("ready", outer.id, inner.id, flush=True)
time.sleep(120)
"""


def test_kill_9_with_two_runs_in_one_process(repo: Path) -> None:
    """One flusher thread serves every run of a process: both runs keep their points."""
    child = start_child(repo, NESTED_VICTIM)
    assert child.stdout is not None
    _ready, outer_id, inner_id = child.stdout.readline().split()
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.communicate()
    outer, inner = gitruns.get_run(outer_id), gitruns.get_run(inner_id)
    assert outer.status == inner.status == "CRASHED"
    assert outer.metrics["a"]["count"] == 300 and inner.metrics["b"]["count"] == 300
    assert inner.parents == [outer_id]
    fsck(repo)


def test_forked_child_records_its_own_run(repo: Path) -> None:
    result = run_child(
        repo,
        """
        with gitruns.start_run(name="parent") as run:
            run.log_metric("a", 1.0)
            pid = os.fork()
            if pid == 0:
                gitruns.recording.stack._active.clear()  # the child's own run, not the parent's
                with gitruns.start_run(name="child") as mine:
                    mine.log_metric("c", 1.0)
                os._exit(0)
            os.waitpid(pid, 0)
            run.log_metric("a", 2.0)
        print(run.id)
        """,
    )
    assert result.returncode == 0, result.stderr
    parent = gitruns.get_run(result.stdout.strip())
    assert parent.metrics["a"]["count"] == 2
    assert gitruns.get_run("child").metrics["c"]["count"] == 1


def test_killed_right_after_the_end_event_is_complete(repo: Path) -> None:
    """Dying between the end event and the commit: the run keeps its status and every
    point (points reach disk before the end event)."""
    result = run_child(
        repo,
        """
        import gitruns.recording.journal
        gitruns.recording.journal.JournalWriter.close = lambda self: os._exit(9)  # die at close
        run = gitruns.start_run(name="late-death")
        for step in range(100):
            run.log_metric("m", float(step))  # all still buffered in memory
        print(run.id, flush=True)
        gitruns.end_run()
        """,
    )
    assert result.returncode == 9, result.stderr
    loaded = gitruns.get_run(result.stdout.strip())
    assert loaded.status == "FINISHED" and loaded.metrics["m"]["count"] == 100
