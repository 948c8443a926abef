"""The write path of a small run (issue 16, flat write cost): what it puts on disk, and that
crashes and concurrent writers still lose nothing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from _store_helpers import run_refs, staging_dirs, start_child
from conftest import fsck, gitruns_cli

import gitruns
from gitruns.recording import provenance
from gitruns.recording.staging_files import EVENTS_FILE, EXTRA_FILES_DIR

ENV_FILES = ("env/packages.txt", "env/platform.yaml", "env/variables.yaml")


def _wait_for_environment() -> None:
    assert provenance._process_snapshot().ready.wait(60)


def test_environment_files_are_staged_in_the_journal(repo: Path) -> None:
    _wait_for_environment()
    with gitruns.start_run(name="inline") as run:
        run_dir = run.run_dir
        assert not (run_dir / EXTRA_FILES_DIR).exists()  # no folder, no file of their own
        events = [json.loads(line) for line in (run_dir / EVENTS_FILE).read_text().splitlines()]
        staged = {e["path"] for e in events if e["event"] == "file"}
        assert staged == set(ENV_FILES)
        live = gitruns.get_run(run.id)  # the run in progress reads them from the journal
        assert b"pygit2==" in (live.file("env/packages.txt") or b"")
    done = gitruns.get_run(run.id)
    assert b"pygit2==" in (done.file("env/packages.txt") or b"")
    assert all(done.file(path) for path in ENV_FILES)
    fsck(repo)


KILLED_WITH_ENVIRONMENT = """
from gitruns.recording import provenance
assert provenance._process_snapshot().ready.wait(60)
run = gitruns.start_run(name="victim", params={"lr": 0.1})
run.log_metric("loss", 0.5, step=0)
print("ready", run.id, flush=True)
time.sleep(120)
"""


def test_a_killed_run_keeps_its_environment_files(repo: Path) -> None:
    child = start_child(repo, KILLED_WITH_ENVIRONMENT)
    assert child.stdout is not None
    word, run_id = child.stdout.readline().split()
    assert word == "ready"
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert staging_dirs(repo) == [run_id] and run_refs(repo) == []
    assert gitruns_cli(repo, "ls").returncode == 0  # recovers it
    run = gitruns.get_run(run_id)
    assert run.status == "CRASHED" and run.params == {"lr": 0.1}
    assert b"pygit2==" in (run.file("env/packages.txt") or b"")
    assert all(run.file(path) for path in ENV_FILES)
    fsck(repo)
