"""Crash durability (kill -9) and concurrent writers, with real processes and real git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _store_helpers import run_refs, staging_dirs, start_child
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.api import open_store

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


def test_crashed_run_seen_by_get_run(repo: Path) -> None:
    run_id = kill_when_ready(start_child(repo, VICTIM))
    assert gitruns.get_run("victim").id == run_id
    assert gitruns.get_run(run_id).status == "CRASHED"


def test_half_written_lines_are_dropped(repo: Path) -> None:
    run_id = kill_when_ready(start_child(repo, VICTIM))
    run_dir = repo / ".git" / "gitruns" / "staging" / run_id
    [writer] = [p for p in run_dir.iterdir() if p.name.startswith("w-")]
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
        assert "victim" not in listing.stdout  # still running: not finalised by others
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
    assert len(runs) >= 3 and [d for d in staging_dirs(repo) if d[0] != "."] == []
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
    open_store()
    assert staging_dirs(repo) == [".new-young"]  # a start may still be in progress
    assert run_refs(repo) == []


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
