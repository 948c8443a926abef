"""`gitruns remote setup`: plain `git push` / `git fetch` carry runs, checked with real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from _sharing_helpers import make_run, make_team, runs_of
from conftest import fsck, git, gitruns_cli


def test_setup_is_idempotent_and_undoable(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    first = gitruns_cli(team.alice, "remote", "setup")
    assert first.returncode == 0, first.stderr
    assert "refs/runs/*:refs/runs/*" in first.stdout
    pushes = git(team.alice, "config", "--get-all", "remote.origin.push").split()
    assert pushes == ["HEAD", "refs/runs/*:refs/runs/*"]
    again = gitruns_cli(team.alice, "remote", "setup")
    assert "already set up" in again.stdout
    assert git(team.alice, "config", "--get-all", "remote.origin.push").split() == pushes
    undo = gitruns_cli(team.alice, "remote", "setup", "--undo")
    assert undo.returncode == 0, undo.stderr
    assert git(team.alice, "config", "--get-all", "remote.origin.push", check=False) == ""
    fetches = git(team.alice, "config", "--get-all", "remote.origin.fetch").split()
    assert fetches == ["+refs/heads/*:refs/remotes/origin/*"]


def test_setup_keeps_the_users_own_push_refspecs(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.alice, "config", "remote.origin.push", "refs/heads/main:refs/heads/main")
    gitruns_cli(team.alice, "remote", "setup")
    pushes = git(team.alice, "config", "--get-all", "remote.origin.push").split()
    assert pushes == ["refs/heads/main:refs/heads/main", "refs/runs/*:refs/runs/*"]
    gitruns_cli(team.alice, "remote", "setup", "--undo")
    assert git(team.alice, "config", "--get-all", "remote.origin.push").split() == pushes[:1]


def test_unknown_remote_is_a_clear_error(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    result = gitruns_cli(team.alice, "remote", "setup", "nowhere")
    assert result.returncode == 1
    assert "no such remote 'nowhere'" in result.stderr and "origin" in result.stderr


def test_plain_git_push_sends_runs_and_the_branch(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    gitruns_cli(team.alice, "remote", "setup")
    (team.alice / "train.py").write_text("print('v2')\n")
    git(team.alice, "commit", "-q", "-am", "v2")
    run_id = make_run(team.alice, "first")
    git(team.alice, "push", "-q")
    remote_refs = git(team.remote, "for-each-ref", "--format=%(refname)").split()
    assert f"refs/runs/{run_id}" in remote_refs
    # The pitfall: a push refspec alone would have left main behind.
    assert git(team.remote, "rev-parse", "main") == git(team.alice, "rev-parse", "HEAD")
    gitruns_cli(team.bob, "remote", "setup")
    git(team.bob, "fetch", "-q")
    assert runs_of(team.bob, "refs/remote-runs/origin/") == runs_of(team.alice)
    assert runs_of(team.bob) == {}  # fetched runs never land in refs/runs/ by themselves
    assert "remote-runs" not in git(team.bob, "branch", "-r")
    fsck(team.bob)


def test_fetch_prune_never_deletes_a_local_run(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    for clone in (team.alice, team.bob):
        gitruns_cli(clone, "remote", "setup")
    shared = make_run(team.alice, "shared")
    git(team.alice, "push", "-q")
    local_only = make_run(team.bob, "unpushed")
    git(team.bob, "fetch", "-q", "--prune")
    git(team.remote, "update-ref", "-d", f"refs/runs/{shared}")
    git(team.bob, "fetch", "-q", "--prune")
    assert list(runs_of(team.bob)) == [local_only]
    assert runs_of(team.bob, "refs/remote-runs/origin/") == {}


def test_plain_fetch_refuses_a_rewritten_run(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    for clone in (team.alice, team.bob):
        gitruns_cli(clone, "remote", "setup")
    run_id = make_run(team.alice, "x")
    git(team.alice, "push", "-q")
    git(team.bob, "fetch", "-q")
    before = runs_of(team.bob, "refs/remote-runs/origin/")[run_id]
    # Someone rewrites the run on the remote (a forced push would): fetch must refuse it.
    head = git(team.remote, "rev-parse", "main").strip()
    git(team.remote, "update-ref", f"refs/runs/{run_id}", head)
    result = subprocess.run(["git", "fetch"], cwd=team.bob, capture_output=True, text=True)
    assert result.returncode != 0 and "non-fast-forward" in result.stderr
    assert runs_of(team.bob, "refs/remote-runs/origin/")[run_id] == before


def test_detached_head_push_fails_like_git_does_without_setup(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    gitruns_cli(team.alice, "remote", "setup")
    git(team.alice, "checkout", "-q", "--detach")
    make_run(team.alice)
    result = subprocess.run(["git", "push"], cwd=team.alice, capture_output=True, text=True)
    assert result.returncode != 0  # git refuses to push HEAD when detached
    pushed = gitruns_cli(team.alice, "push")  # gitruns push needs no branch
    assert pushed.returncode == 0, pushed.stderr
