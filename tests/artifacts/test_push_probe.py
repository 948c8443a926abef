"""A push reads only the runs that have artifacts (one bulk probe finds them): runs without
any are pushed without loading the artifact machinery, and a run with artifacts among many
without still has its content uploaded, by ``gitruns push`` and by the pre-push hook.
Real git, real git-lfs (its standalone file transfer to a bare repository on disk)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _artifact_helpers import lfs_objects, record_with_artifacts, sha256
from _sharing_helpers import make_run, make_team, runs_of, store
from conftest import fsck, git, gitruns_cli

from gitruns.artifacts.probe import pushed_run_commits, with_artifacts
from gitruns.runs.catfile_session import CatFileSession
from gitruns.sharing.lightrepo import open_for_transfer

MODEL = b"weights " * 20_000


def test_probe_names_only_runs_with_artifacts(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    plain = [make_run(team.alice, f"plain-{i}") for i in range(3)]
    rich = record_with_artifacts(team.alice, "rich", {"model.npz": MODEL})
    commits = runs_of(team.alice)
    found = with_artifacts(store(team.alice), [commits[i] for i in [*plain, rich]])
    assert found == [commits[rich]]
    assert with_artifacts(store(team.alice), [commits[i] for i in plain]) == []
    assert with_artifacts(store(team.alice), []) == []


def test_probe_counts_any_other_content_as_artifacts(tmp_path: Path) -> None:
    """Only an absent file or the empty list is "none": anything else is read in full."""
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    commit = runs_of(team.alice)[run_id]
    odd = _git_in(team.alice, "# nothing here\n[]\n", "hash-object", "-w", "--stdin")
    tree = git(team.alice, "ls-tree", commit).replace(
        git(team.alice, "rev-parse", f"{commit}:artifacts.yaml").strip(), odd
    )
    new_tree = _git_in(team.alice, tree, "mktree")
    crafted = git(team.alice, "commit-tree", new_tree, "-p", f"{commit}^", "-m", "odd").strip()
    assert with_artifacts(store(team.alice), [crafted, commit]) == [crafted]


def _git_in(repo: Path, stdin: str, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pushed_run_commits_reads_pre_push_lines() -> None:
    zero = "0" * 40
    lines = (
        f"refs/runs/a {'1' * 40} refs/runs/a {zero}\n"
        f"refs/heads/main {'2' * 40} refs/heads/main {zero}\n"
        f"(delete) {zero} refs/runs/b {'3' * 40}\n"
        f"refs/runs/c {zero} refs/runs/c {'4' * 40}\n"
        "garbage\n"
    )
    assert pushed_run_commits(lines) == ["1" * 40]


lfs = pytest.mark.skipif(
    shutil.which("git-lfs") is None and not os.environ.get("CI"),
    reason="git-lfs is not installed (.ci/run installs it)",
)


@lfs
def test_gitruns_push_uploads_the_one_run_with_artifacts_among_many(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    for i in range(5):
        make_run(team.alice, f"plain-{i}")
    record_with_artifacts(team.alice, "rich", {"model.npz": MODEL})
    pushed = gitruns_cli(team.alice, "push")  # no hook: gitruns push uploads after the runs
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 6 run(s)" in pushed.stderr
    assert "uploaded 1 artifact object(s)" in pushed.stderr
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    fsck(team.remote)


@lfs
def test_gitruns_push_of_runs_without_artifacts_uploads_nothing(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    for i in range(3):
        make_run(team.alice, f"plain-{i}")
    pushed = gitruns_cli(team.alice, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 3 run(s)" in pushed.stderr
    assert "artifact" not in pushed.stderr
    assert lfs_objects(team.remote) == {}
    assert set(runs_of(team.remote)) == set(runs_of(team.alice))


@lfs
def test_hook_uploads_the_one_run_with_artifacts_and_skips_the_rest(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    for i in range(3):
        make_run(team.alice, f"plain-{i}")
    first = subprocess.run(["git", "push"], cwd=team.alice, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "gitruns:" not in first.stderr  # nothing to upload: the hook said nothing
    assert lfs_objects(team.remote) == {}
    record_with_artifacts(team.alice, "rich", {"model.npz": MODEL})
    second = subprocess.run(["git", "push"], cwd=team.alice, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "uploaded the artifacts of the pushed runs" in second.stderr
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    assert set(runs_of(team.remote)) == set(runs_of(team.alice))


CONTENTS = {
    "missing": None,
    "empty": b"",
    "brackets": b"[]\n",
    "blank brackets": b"\n  []  \n\n",
    "listing": b"- path: model.npz\n  size: 3\n",
    "blanks only": b"   \n",
}


def _blob_of(repo: Path, data: bytes) -> str:
    done = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, capture_output=True
    )
    return done.stdout.decode().strip()


def _commit(repo: Path, entries: str, label: str) -> str:
    tree = subprocess.run(
        ["git", "mktree"], cwd=repo, input=entries, capture_output=True, text=True, check=True
    ).stdout.strip()
    return git(repo, "commit-tree", tree, "-m", label).strip()


def _commits(repo: Path) -> dict[str, str]:
    git(repo.parent, "init", "-q", str(repo))
    run_yaml = _blob_of(repo, b"id: x\n")
    commits = {}
    for label, data in CONTENTS.items():
        entries = f"100644 blob {run_yaml}\trun.yaml\n"
        if data is not None:
            entries += f"100644 blob {_blob_of(repo, data)}\tartifacts.yaml\n"
        commits[label] = _commit(repo, entries, label)
    inner = _commit(repo, f"100644 blob {run_yaml}\trun.yaml\n", "inner")
    inner_tree = git(repo, "rev-parse", f"{inner}^{{tree}}").strip()
    commits["a folder"] = _commit(repo, f"040000 tree {inner_tree}\tartifacts.yaml\n", "folder")
    return commits


def _by_rule(repo: Path, commits: dict[str, str]) -> set[str]:
    """The labels whose commit may have artifacts, file by file: a file there that is not
    a blob, or a blob that is neither empty nor ``[]`` once stripped."""
    having = set()
    for label, commit in commits.items():
        kind = subprocess.run(
            ["git", "cat-file", "-t", f"{commit}:artifacts.yaml"], cwd=repo, capture_output=True
        )
        if kind.returncode != 0:
            continue
        if kind.stdout.strip() != b"blob":
            having.add(label)
            continue
        data = subprocess.run(
            ["git", "cat-file", "blob", f"{commit}:artifacts.yaml"], cwd=repo, capture_output=True
        ).stdout
        if data.strip() not in (b"", b"[]"):
            having.add(label)
    return having


def test_the_probe_answers_as_the_rule_with_and_without_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    commits = _commits(repo)
    expected = _by_rule(repo, commits)
    assert expected == {"listing", "a folder"}
    store = open_for_transfer(repo)
    labels = {commit: label for label, commit in commits.items()}
    order = [*commits.values(), commits["listing"]]  # a commit twice is answered once
    assert {labels[c] for c in with_artifacts(store, order)} == expected
    trees = {c: git(repo, "rev-parse", f"{c}^{{tree}}").strip() for c in commits.values()}
    with CatFileSession(store) as objects:
        found = with_artifacts(store, order, objects=objects, trees=trees)
        assert {labels[c] for c in found} == expected
        assert with_artifacts(store, [], objects=objects) == []
    old = tmp_path / "old-git"  # a git before 2.36: no --batch-command
    old.mkdir()
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    (old / "git").write_text(
        '#!/bin/sh\nfor arg in "$@"; do\n'
        '  [ "$arg" = --batch-command ] && { echo "usage: git cat-file" >&2; exit 129; }\n'
        f'done\nexec {real} "$@"\n'
    )
    (old / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{old}:{os.environ['PATH']}")
    assert {labels[c] for c in with_artifacts(store, order)} == expected
    assert {labels[c] for c in with_artifacts(store, order, trees=trees)} == expected


@lfs
def test_gitruns_push_with_the_hook_uploads_through_the_hook_and_refuses_the_same(
    tmp_path: Path,
) -> None:
    """With the pre-push hook installed, `gitruns push` (its one cat-file session probing the
    pushed runs after the push) ends as without it: the run with artifacts has its content
    on the remote (the hook sent it), the rest went; a run on unpushed code is refused
    before git runs, so the hook uploads nothing for it."""
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    for i in range(3):
        make_run(team.alice, f"plain-{i}")
    record_with_artifacts(team.alice, "rich", {"model.npz": MODEL})
    pushed = gitruns_cli(team.alice, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 4 run(s)" in pushed.stderr
    assert "uploaded 1 artifact object(s)" not in pushed.stderr  # the hook sent it, not push
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    assert set(runs_of(team.remote)) == set(runs_of(team.alice))
    (team.alice / "train.py").write_text("print('secret idea')\n")
    git(team.alice, "commit", "-q", "-am", "unpushed work")
    other = b"other weights " * 10_000
    secret = record_with_artifacts(team.alice, "secret", {"model.npz": other})
    refused = gitruns_cli(team.alice, "push")
    assert refused.returncode == 1 and secret in refused.stderr
    assert secret not in runs_of(team.remote)
    assert sha256(other) not in lfs_objects(team.remote)
    fsck(team.remote)
