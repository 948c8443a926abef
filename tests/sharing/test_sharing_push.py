"""`gitruns push` / `fetch` / `pull` against a bare remote on disk, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from _sharing_helpers import free_port, make_run, make_team, runs_of, store
from conftest import fsck, git, gitruns_cli

from gitruns.runs import annotate
from gitruns.runs.model import read_run_document
from gitruns.sharing import (
    HostRefusedError,
    PushRejectedError,
    RemoteError,
    UnpublishedCodeError,
    fetch_runs,
    pull_runs,
    push_runs,
)


def test_push_fetch_pull_round_trip_through_the_cli(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    ids = [make_run(team.alice, f"r{i}") for i in range(3)]
    pushed = gitruns_cli(team.alice, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert sorted(pushed.stdout.split()[1::2]) == sorted(ids)
    assert runs_of(team.remote) == runs_of(team.alice)
    # Push records nothing under refs/remote-runs/ (a fetch does): it costs a ref a run.
    assert runs_of(team.alice, "refs/remote-runs/origin/") == {}
    again = gitruns_cli(team.alice, "push")
    assert "pushed 0 run(s)" in again.stderr
    fetched = gitruns_cli(team.bob, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert "3 new" in fetched.stderr
    assert runs_of(team.bob, "refs/remote-runs/origin/") == runs_of(team.alice)
    pulled = gitruns_cli(team.bob, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert runs_of(team.bob) == runs_of(team.alice)
    fsck(team.bob)
    fsck(team.remote)


def test_push_named_runs_only(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    keep = make_run(team.alice, "keep")
    make_run(team.alice, "private")
    result = gitruns_cli(team.alice, "push", "origin", "keep")
    assert result.returncode == 0, result.stderr
    assert list(runs_of(team.remote)) == [keep]


def test_no_such_remote(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    for verb in ("push", "fetch", "pull"):
        result = gitruns_cli(team.alice, verb, "upstream")
        assert result.returncode == 1
        assert "no such remote 'upstream'" in result.stderr, result.stderr
        assert "git remote add upstream" in result.stderr


def test_unreachable_remote(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.alice, "remote", "add", "gone", str(tmp_path / "missing.git"))
    with pytest.raises(RemoteError, match="cannot reach remote 'gone'"):
        fetch_runs(store(team.alice), "gone")


def test_host_that_refuses_custom_refs(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    hook = team.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read old new ref; do\n"
        '  case "$ref" in refs/runs/*) echo "custom refs are not allowed" >&2; exit 1;; esac\n'
        "done\n"
    )
    hook.chmod(0o755)
    make_run(team.alice)
    with pytest.raises(HostRefusedError, match="refused 1 run") as caught:
        push_runs(store(team.alice), "origin")
    assert "bundle" in caught.value.hint
    result = gitruns_cli(team.alice, "push")
    assert result.returncode == 1 and "pre-receive hook declined" in result.stderr
    assert runs_of(team.remote) == {}


def test_hidden_refs_are_refused_too(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.remote, "config", "receive.hideRefs", "refs/runs")
    make_run(team.alice)
    with pytest.raises(HostRefusedError, match="hidden ref"):
        push_runs(store(team.alice), "origin")


def test_non_fast_forward_says_pull_then_push(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "shared")
    push_runs(store(team.alice), "origin")
    pull_runs(store(team.bob), "origin")
    annotate.set_tags(store(team.alice), run_id, {"by": "alice"})
    annotate.set_tags(store(team.bob), run_id, {"seen": "bob"})
    push_runs(store(team.alice), "origin")
    with pytest.raises(PushRejectedError) as caught:
        push_runs(store(team.bob), "origin")
    assert caught.value.run_ids == [run_id]
    assert "gitruns pull origin" in caught.value.hint
    cli = gitruns_cli(team.bob, "push")
    assert cli.returncode == 1 and "then push again" in cli.stderr
    pull_runs(store(team.bob), "origin")
    push_runs(store(team.bob), "origin")
    tags = read_run_document(store(team.bob), run_id, runs_of(team.remote)[run_id])
    assert tags["tags"] == {"by": "alice", "seen": "bob"}
    fsck(team.remote)


def test_unpublished_code_is_refused_unless_allowed(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    (team.alice / "train.py").write_text("print('secret idea')\n")
    git(team.alice, "commit", "-q", "-am", "unpushed work")
    run_id = make_run(team.alice, "on-local-code")
    with pytest.raises(UnpublishedCodeError) as caught:
        push_runs(store(team.alice), "origin")
    assert caught.value.run_ids == [run_id]
    assert runs_of(team.remote) == {}
    cli = gitruns_cli(team.alice, "push")
    assert cli.returncode == 1 and "--allow-unpublished-code" in cli.stderr
    allowed = gitruns_cli(team.alice, "push", "--allow-unpublished-code")
    assert allowed.returncode == 0, allowed.stderr
    assert "warning: 1 run(s) ran on code that is on no branch" in allowed.stderr
    assert list(runs_of(team.remote)) == [run_id]


def test_unpublished_code_allowed_by_config_and_cleared_by_pushing_the_branch(
    tmp_path: Path,
) -> None:
    team = make_team(tmp_path)
    (team.alice / "train.py").write_text("print('v2')\n")
    git(team.alice, "commit", "-q", "-am", "v2")
    make_run(team.alice, "a")
    git(team.alice, "config", "gitruns.allowUnpublishedCode", "true")
    assert gitruns_cli(team.alice, "push").returncode == 0
    git(team.alice, "config", "--unset", "gitruns.allowUnpublishedCode")
    make_run(team.alice, "b")
    git(team.alice, "push", "-q", "origin", "main")
    result = gitruns_cli(team.alice, "push")
    assert result.returncode == 0, result.stderr


def test_dirty_run_counts_as_unpublished_code(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    (team.alice / "train.py").write_text("print('uncommitted')\n")
    make_run(team.alice, "dirty")
    with pytest.raises(UnpublishedCodeError):
        push_runs(store(team.alice), "origin")


def test_relative_remote_url_resolves_from_the_worktree(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.alice, "remote", "set-url", "origin", "../remote.git")
    run_id = make_run(team.alice)
    sub = team.alice / "src"
    sub.mkdir()
    result = gitruns_cli(sub, "push")
    assert result.returncode == 0, result.stderr
    assert list(runs_of(team.remote)) == [run_id]


def test_push_to_an_unreachable_remote_says_so(tmp_path: Path) -> None:
    """Not "unpublished code": a remote that cannot be reached has no branches we know."""
    team = make_team(tmp_path)
    make_run(team.alice)
    git(team.alice, "remote", "add", "gone", str(tmp_path / "missing.git"))
    result = gitruns_cli(team.alice, "push", "gone")
    assert result.returncode == 1
    assert "cannot reach remote 'gone'" in result.stderr, result.stderr
    assert "unpublished" not in result.stderr and "no branch" not in result.stderr
    port = free_port()  # nothing listens there
    git(team.alice, "remote", "add", "down", f"http://127.0.0.1:{port}/runs.git")
    result = gitruns_cli(team.alice, "push", "down")
    assert result.returncode == 1 and "cannot reach remote 'down'" in result.stderr, result.stderr
