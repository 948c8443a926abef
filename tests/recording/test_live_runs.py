"""Runs in progress: a real recorded child logs for several seconds while other processes
list it (RUNNING), show it, read its growing series, follow its output and its plot."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _record_helpers import GITRUNS
from conftest import fsck, gitruns_cli

import gitruns
from gitruns.recording.capped_log import CappedLog
from gitruns.recording.repository import open_store
from gitruns.runs.live import live_run_dirs
from gitruns.runs.logs import LogFollower, last_lines

pytestmark = pytest.mark.slow

CHILD = """
import sys, time
from pathlib import Path
import gitruns

run = gitruns.start_run(params={"lr": 0.5})
step = 0
stop = Path(sys.argv[1])
deadline = time.time() + 120
while not stop.exists() and time.time() < deadline:
    gitruns.log_metric("loss", 1.0 / (step + 1), step=step)
    print(f"step {step}", flush=True)
    step += 1
    time.sleep(0.1)
print("done", flush=True)
print("Traceback: ValueError: diverged at the end", file=sys.stderr, flush=True)
sys.exit(3)
"""


def _wait(what: str, check: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live(repo: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """A recorded child that logs a point every 0.1 s until the stop file appears."""
    (repo / "child.py").write_text(CHILD)
    stop = repo.parent / "stop"
    recorder = subprocess.Popen(
        [*GITRUNS, "record", "--name", "live-one", "--", sys.executable, "child.py", str(stop)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def running_id() -> str:
        listed = gitruns_cli(repo, "ls", "-q", "-f", 'status = "RUNNING"')
        return listed.stdout.strip()

    try:
        run_id = str(_wait("the run to be listed as RUNNING", running_id))
        yield run_id, stop, recorder
    finally:
        stop.touch()
        recorder.wait(timeout=60)


def _points(repo: Path, run_id: str) -> int:
    series = gitruns_cli(repo, "metrics", run_id, "loss", "--format", "csv")
    return len(series.stdout.splitlines()) - 1 if series.returncode == 0 else 0


def test_a_run_in_progress_is_listed_shown_and_read(
    repo: Path, live: tuple[str, Path, subprocess.Popen[bytes]]
) -> None:
    run_id, stop, recorder = live
    listed = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    assert [(r["id"], r["status"], r["commit"]) for r in listed] == [(run_id, "RUNNING", None)]
    assert gitruns_cli(repo, "ls", "-f", 'status = "FINISHED"').stdout == ""
    first = int(str(_wait("a first point", lambda: _points(repo, run_id))))
    _wait("the series to grow", lambda: _points(repo, run_id) > first)
    shown = gitruns_cli(repo, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "status    RUNNING (in progress, pid" in shown.stdout
    assert "so far)" in shown.stdout and "  lr  0.5" in shown.stdout
    assert "\nmetrics\n" in shown.stdout and "  loss  " in shown.stdout
    run = gitruns.get_run(run_id)
    assert run.status == "RUNNING" and run.live and run.params == {"lr": 0.5}
    assert run.metrics["loss"]["count"] >= first
    assert [p.step for p in run.metric_history("loss")][:2] == [0, 1]
    assert gitruns.get_run("live-one").id == run_id  # by name too
    assert "step 0\n" in gitruns_cli(repo, "logs", run_id).stdout
    tagged = gitruns_cli(repo, "tag", run_id, "verdict=early")
    assert tagged.returncode == 1 and "still in progress" in tagged.stderr
    follow = subprocess.Popen(
        [*GITRUNS, "logs", run_id, "--follow"], cwd=repo, stdout=subprocess.PIPE
    )
    time.sleep(1.0)
    stop.touch()
    out, _ = follow.communicate(timeout=60)
    assert follow.returncode == 0
    lines = out.decode().splitlines()
    assert lines[0] == "step 0" and lines[-1] == "done"
    assert lines[:-1] == [f"step {i}" for i in range(len(lines) - 1)]  # nothing lost or doubled
    assert recorder.wait(timeout=60) == 3
    final = gitruns_cli(repo, "show", run_id)
    assert "status    FAILED (exit code 3)" in final.stdout
    assert "stderr (last lines;" in final.stdout and "ValueError: diverged" in final.stdout
    assert gitruns_cli(repo, "logs", run_id).stdout == out.decode()  # the same as recorded
    fsck(repo)


def test_plot_follow_redraws_until_the_run_ends(
    repo: Path, live: tuple[str, Path, subprocess.Popen[bytes]]
) -> None:
    run_id, stop, recorder = live
    _wait("a first point", lambda: _points(repo, run_id))
    controller, terminal = pty.openpty()
    plot = subprocess.Popen(
        [*GITRUNS, "plot", "loss", run_id, "--follow", "--interval", "0.3", "--style", "ascii"],
        cwd=repo,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "80"},
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 60
    while screen.count(b"\x1b[2J") < 3 and time.monotonic() < deadline:
        if select.select([controller], [], [], 0.5)[0]:
            screen += os.read(controller, 65536)
    stop.touch()
    while plot.poll() is None and time.monotonic() < deadline:
        if select.select([controller], [], [], 0.5)[0]:
            try:
                screen += os.read(controller, 65536)
            except OSError:
                break
    assert plot.wait(timeout=30) == 0
    os.close(controller)
    assert screen.count(b"\x1b[2J") >= 3  # redrawn while the run went on
    assert b"live-one" in screen and b"loss" in screen
    recorder.wait(timeout=60)


def test_a_dead_run_is_crashed_not_running(repo: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    recorder = subprocess.Popen(
        [*GITRUNS, "record", "--", sys.executable, "child.py", str(repo.parent / "never")],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait("the run to start", lambda: live_run_dirs(open_store(repo, recover=False)))
    os.killpg(recorder.pid, 9)  # the recorder and its child, as a machine reboot would
    recorder.wait(timeout=30)
    listed = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    assert [r["status"] for r in listed] == ["CRASHED"]


def test_log_follower_reads_a_capped_log_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "stdout.txt"
    log = CappedLog(path, head_bytes=64, tail_bytes=100)
    follower = LogFollower(path)
    written = b""
    seen = b""
    for number in range(60):
        line = f"line {number:03d}\n".encode()
        log.write(line)
        written += line
        if number % 7 == 0:  # read now and then, as --follow does
            seen += follower.read_new()
    seen += follower.read_new()
    assert seen == written  # read often enough: every byte, in order, once
    log.write(b"late 1\nlate 2\n")  # written after the last read, before the end
    log.close()
    assert follower.rest(path.read_bytes()) == b"late 1\nlate 2\n"
    assert last_lines(written, 2) == b"line 058\nline 059\n"
    assert last_lines(b"a\nb", 1) == b"b" and last_lines(b"a\n", 5) == b"a\n"


def test_live_summaries_read_only_what_was_written_since(repo: Path) -> None:
    """A reader starts from the writer's published summaries (live.json) and parses only
    the points after them; the result equals the finished run's summary."""
    import math

    from gitruns.runs.live import read_live_run

    run = gitruns.start_run("published")
    for step, value in [(0, 5.0), (3, float("nan")), (1, -2.0), (3, 7.0)]:
        run.log_metric("loss", value, step=step)
    run.log_metric("acc", 0.5, step=0)
    run._writer.flush(publish=True)
    assert (run.run_dir / "live.json").exists()
    run.log_metric("loss", 9.0, step=2)  # after the published part, a lower step
    run.log_metric("acc", float("nan"), step=4)
    run._writer.flush()  # on disk, not published
    size = (run.run_dir / "m0.csv").stat().st_size
    with (run.run_dir / "m0.csv").open("ab") as handle:
        handle.write(b"9,17000")  # a line still being written: not read
    live = read_live_run(run.store, run.run_dir).metrics
    (run.run_dir / "live.json").unlink()
    again = read_live_run(run.store, run.run_dir).metrics  # from scratch: the same
    assert json.dumps(again, sort_keys=True) == json.dumps(live, sort_keys=True)
    assert live["loss"]["count"] == 5 and live["loss"]["last"] == 7.0
    assert (live["loss"]["min"], live["loss"]["max"]) == (-2.0, 9.0)
    assert live["acc"]["last_step"] == 4 and math.isnan(live["acc"]["last"])
    os.truncate(run.run_dir / "m0.csv", size)  # as it was: the writer's own file
    run.end()
    gitruns.recording.stack.forget_run(run)
    final = gitruns.get_run(run.id).metrics  # the finished run's summary: the same
    assert json.dumps(final, sort_keys=True) == json.dumps(live, sort_keys=True)
