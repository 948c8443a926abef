"""A run's identity is its history: a remote (or a bundle) serving a run with a local run's
id but unrelated history, dated in the future, cannot replace or merge into the local run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, runs_of, store
from _trust_helpers import commit_tree, plumb, run_document, with_files
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.format import yamlio
from gitruns.sharing import load_bundle, pull_runs, push_runs

FUTURE = "2099-01-01T00:00:00Z"


def _impostor(remote: Path, victim_id: str, model_tip: str) -> str:
    """A run commit on ``remote`` with ``victim_id`` but the history of another run, and
    other status, params, tags and user; placed at refs/runs/<victim_id>."""
    document = run_document(remote, model_tip)
    document.update(
        id=victim_id,
        name="impostor",
        status="FAILED",
        tags={"verdict": "discard"},
        user={"name": "Mallory", "email": "mallory@example.com", "os_user": "m"},
    )
    params = yamlio.dump({"lr": 99.0})
    tree = with_files(remote, model_tip, {"run.yaml": yamlio.dump(document), "params.yaml": params})
    code = plumb(remote, "rev-parse", f"{model_tip}^")
    commit = commit_tree(remote, tree, [code], "run", when=FUTURE)
    plumb(remote, "update-ref", f"refs/runs/{victim_id}", commit)
    return commit


@pytest.fixture
def hijack(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """Bob's local run ``victim`` (never pushed) and a remote run with its id and an
    unrelated history. Returns bob, the remote, the victim's id and bob's commit."""
    team = make_team(tmp_path)
    other = make_run(team.alice, "other")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    victim = make_run(team.bob, "victim", verdict="keep")
    _impostor(team.remote, victim, runs_of(team.remote)[other])
    return team.bob, team.remote, victim, runs_of(team.bob)[victim]


def test_pull_refuses_a_run_with_unrelated_history(hijack: tuple[Path, Path, str, str]) -> None:
    bob, _remote, victim, ours = hijack
    result = gitruns_cli(bob, "pull")
    assert result.returncode == 1
    assert "gitruns: error: " in result.stderr
    assert victim in result.stderr and "unrelated" in result.stderr
    assert runs_of(bob)[victim] == ours  # the local run is untouched
    run = gitruns.get_run(victim, repo=bob)
    assert (run.name, run.status, run.tags, run.params) == (
        "victim",
        "FINISHED",
        {"verdict": "keep"},
        {"lr": 0.01},
    )
    # Both stay visible: ours as the run, theirs under its origin.
    assert victim in runs_of(bob, "refs/remote-runs/origin/")
    listed = gitruns_cli(bob, "ls", "--all", "--format", "json")
    copies = {(r["origin"], r["name"]) for r in json.loads(listed.stdout) if r["id"] == victim}
    assert copies == {("local", "victim"), ("origin", "impostor")}
    fsck(bob)


def test_pull_api_reports_unrelated_runs(hijack: tuple[Path, Path, str, str]) -> None:
    bob, _remote, victim, ours = hijack
    _fetched, report = pull_runs(store(bob), "origin")
    assert report.unrelated == [(victim, f"refs/remote-runs/origin/{victim}")]
    assert report.merged == {} and report.fast_forwarded == []
    assert runs_of(bob)[victim] == ours


def test_a_bundle_with_unrelated_history_is_refused(
    hijack: tuple[Path, Path, str, str], tmp_path: Path
) -> None:
    bob, remote, victim, ours = hijack
    bundle = tmp_path / "impostor.bundle"
    plumb(remote, "bundle", "create", str(bundle), f"refs/runs/{victim}")
    report = load_bundle(store(bob), bundle)
    assert report.integrated.unrelated == [(victim, f"refs/remote-runs/bundle/{victim}")]
    assert runs_of(bob)[victim] == ours
    assert victim in runs_of(bob, "refs/remote-runs/bundle/")  # kept visible, not merged
    result = gitruns_cli(bob, "bundle", "load", str(bundle))
    assert result.returncode == 1 and "unrelated" in result.stderr
    assert runs_of(bob)[victim] == ours


def test_a_forged_merge_holding_our_run_as_second_parent_is_refused(
    hijack: tuple[Path, Path, str, str],
) -> None:
    """A commit whose second parent is our run's tip would fast-forward our ref onto an
    impostor's history; its first-parent line shows whose run it is."""
    bob, remote, victim, ours = hijack
    impostor = runs_of(remote)[victim]
    git(bob, "push", "-q", "origin", f"refs/runs/{victim}:refs/heads/stolen")  # remote has ours
    tree = plumb(remote, "rev-parse", f"{impostor}^{{tree}}")
    forged = commit_tree(remote, tree, [impostor, ours], "tag: x\n\nGitruns-Annotation: merge")
    plumb(remote, "update-ref", f"refs/runs/{victim}", forged)
    result = gitruns_cli(bob, "pull")
    assert result.returncode == 1 and "unrelated" in result.stderr
    assert runs_of(bob)[victim] == ours


def test_shared_history_still_merges(tmp_path: Path) -> None:
    """The legitimate case: both sides annotated the same run."""
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "shared")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    pull_runs(store(team.bob), "origin")
    gitruns.set_run_tags(run_id, {"alice": "yes"}, repo=team.alice)
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    gitruns.set_run_tags(run_id, {"bob": "yes"}, repo=team.bob)
    result = gitruns_cli(team.bob, "pull")
    assert result.returncode == 0, result.stderr
    assert gitruns.get_run(run_id, repo=team.bob).tags == {"alice": "yes", "bob": "yes"}
    git(team.bob, "fsck", "--strict", "--no-dangling")
