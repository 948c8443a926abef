"""gitruns bisect finds a planted regression in a history of 16 commits, using the runs
recorded at some commits and recording the training command at the others."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _review_helpers import commit, git
from conftest import fsck, gitruns_cli

TRAIN = """\
import gitruns
from pathlib import Path

quality = float(Path("quality.txt").read_text())
for step, acc in enumerate([quality - 0.2, quality - 0.1, quality]):
    gitruns.log_metric("acc", acc, step=step)
"""
PLANTED = 11  # the commit (1-based) where quality drops


def _history(repo: Path) -> list[str]:
    (repo / "train.py").write_text(TRAIN)
    git(repo, "add", "train.py")
    commits = []
    for number in range(1, 17):
        quality = 0.9 if number < PLANTED else 0.6
        (repo / "quality.txt").write_text(f"{quality}\n")
        git(repo, "add", "quality.txt")
        commits.append(commit(repo, "step.txt", f"{number}\n", number * 10))
        (repo / f"notes{number}.txt").write_text(f"change {number}\n")  # untracked: clean tree
    return commits


def _runs_by_commit(repo: Path) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    result = gitruns_cli(repo, "ls", "--format", "json")
    assert result.returncode == 0, result.stderr
    by_commit: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for run in json.loads(result.stdout):
        by_commit.setdefault(run["git"]["commit"], []).append(run)
    return by_commit


@pytest.mark.slow
def test_bisect_finds_the_planted_regression(repo: Path) -> None:
    commits = _history(repo)
    command = [sys.executable, "train.py"]
    # runs already recorded at the first, a middle and the last commit
    for number in (1, 6, 16):
        git(repo, "checkout", "-q", commits[number - 1])
        assert gitruns_cli(repo, "record", "--", *command).returncode == 0
    git(repo, "checkout", "-q", "main")
    before = _runs_by_commit(repo)

    result = gitruns_cli(repo, "bisect", "metrics.acc >= 0.8", "--good", commits[0], "--", *command)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"first bad commit: {commits[PLANTED - 1]} step.txt: {PLANTED}\n"
    # back where it started, bisect state cleared
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert not (repo / ".git" / "BISECT_LOG").exists()
    after = _runs_by_commit(repo)
    # commits that had runs were judged on them, never recorded again
    for number in (1, 6, 16):
        assert len(after[commits[number - 1]]) == 1
    recorded = {c: runs for c, runs in after.items() if c not in before}
    assert recorded, "bisect recorded no run"
    for runs in recorded.values():
        assert [r["tags"].get("bisect") for r in runs] == ["yes"]
        assert runs[0]["status"] == "FINISHED"
    # the first bad commit and its parent were both judged on a run
    assert commits[PLANTED - 1] in after and commits[PLANTED - 2] in after
    assert "gitruns bisect: " in result.stderr and " bad" in result.stderr
    fsck(repo)


def test_bisect_refuses_a_dirty_tree_and_bad_conditions(repo: Path) -> None:
    commits = _history(repo)
    (repo / "quality.txt").write_text("0.1\n")
    result = gitruns_cli(repo, "bisect", "metrics.acc >= 0.8", "--good", commits[0], "--", "true")
    assert result.returncode == 1
    assert "uncommitted changes; commit or stash them" in result.stderr
    git(repo, "checkout", "--", "quality.txt")
    result = gitruns_cli(
        repo, "bisect", "metrics.acc >= baseline.metrics.acc", "--good", commits[0], "--", "true"
    )
    assert result.returncode == 1 and "gitruns bisect has no baseline" in result.stderr
    result = gitruns_cli(repo, "bisect", "metrics.acc >=", "--good", commits[0], "--", "true")
    assert result.returncode == 1 and "syntax error" in result.stderr


def test_a_step_that_errs_aborts_rather_than_saying_bad(repo: Path) -> None:
    _history(repo)
    result = gitruns_cli(repo, "bisect", "metrics.acc >=", "--step", "--good", "HEAD")
    assert result.returncode == 128
    result = gitruns_cli(repo, "bisect", "metrics.acc >= 0.8", "--step", "--good", "HEAD")
    assert result.returncode == 125  # no run and no command: skip
