"""An adversarial pass over ``gitruns gc --now`` racing a live ``gitruns record`` that has
been running for over an hour (every file it left made two hours old): a dirty tree's
snapshot, an artifact logged at the start, metrics, and the staging folder must all
survive, and the run end whole. Real CLI, real subprocesses, ``git fsck --strict``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _record_helpers import GITRUNS
from conftest import fsck, git, gitruns_cli

CHILD = """
import pathlib, sys, time
import gitruns
here = pathlib.Path(sys.argv[1])
(here / "model.bin").write_bytes(b"weights" * 1000)
gitruns.log_artifact(here / "model.bin")
gitruns.log_metric("loss", 1.0, step=0)
(here / "ready").write_text("ready")
while not (here / "go").exists():
    time.sleep(0.05)
gitruns.log_metric("loss", 0.5, step=1)
"""


def _age_everything(root: Path, seconds: float) -> None:
    old = time.time() - seconds
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                os.utime(Path(folder) / name, (old, old))
            except FileNotFoundError:
                continue


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_gc_now_during_an_hour_old_live_record_loses_nothing(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('changed, not committed')\n")  # a dirty tree
    work = tmp_path / "work"
    work.mkdir()
    live = subprocess.Popen(
        [*GITRUNS, "record", "--", sys.executable, "-c", CHILD, str(work)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(work / "ready", live)
        _age_everything(repo / ".git", 7200)
        for _ in range(2):
            collected = gitruns_cli(repo, "gc", "--now", "--older-than", "0")
            assert collected.returncode == 0, collected.stderr
            git(repo, "gc", "--prune=now", "-q")
        (work / "go").write_text("go")
        _out, err = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert live.returncode == 0, err
    listed = gitruns_cli(repo, "ls", "--format", "json")
    assert listed.returncode == 0 and "skipping" not in listed.stderr, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["status"] == "FINISHED"
    shown = json.loads(gitruns_cli(repo, "show", run["id"], "--format", "json").stdout)
    assert shown["metrics"]["loss"]["last"] == 0.5 and shown["metrics"]["loss"]["count"] == 2
    snapshot = shown["git"]["snapshot"]
    assert snapshot and "changed" in git(repo, "show", f"{snapshot}:train.py")
    verified = gitruns_cli(repo, "artifacts", "verify", run["id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    said = verified.stdout + verified.stderr
    assert "checked 1 object(s)" in said and "0 damaged; 0 not here" in said, said
    assert [a["path"] for a in shown["artifacts"]] == ["model.bin"]
    fsck(repo)
