"""Only refs named exactly ``refs/runs/<run id>`` or ``refs/remote-runs/<remote>/<run id>``
are runs, whichever way they arrived: plain ``git fetch``, ``gitruns fetch``, ``pull`` or a
bundle. A nested ref such as ``refs/runs/evil/<id>`` is reported and never listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team, runs_of, store
from _trust_helpers import commit_tree, plumb, run_document, with_files
from conftest import git, gitruns_cli

import gitruns
from gitruns.format import yamlio
from gitruns.format.ids import new_run_id
from gitruns.sharing import fetch_runs, load_bundle, pull_runs, push_runs


@pytest.fixture
def nested(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A remote holding a good run, the same run again at refs/runs/evil/<id>, and a
    well-formed run whose only ref is refs/runs/evil/<other id>. Returns bob's clone, the
    remote, the good id and the other id."""
    team = make_team(tmp_path)
    good = make_run(team.alice, "good")
    push_runs(store(team.alice), "origin", allow_unpublished_code=True)
    remote = team.remote
    tip = runs_of(remote)[good]
    other = new_run_id()
    document = run_document(remote, tip)
    document["id"], document["name"] = other, "smuggled"
    tree = with_files(remote, tip, {"run.yaml": yamlio.dump(document)})
    smuggled = commit_tree(remote, tree, [plumb(remote, "rev-parse", f"{tip}^")], "run")
    plumb(remote, "update-ref", f"refs/runs/evil/{other}", smuggled)
    plumb(remote, "update-ref", f"refs/runs/evil/{good}", tip)
    return team.bob, remote, good, other


def _listed(repo: Path) -> tuple[list[tuple[str, str]], str]:
    result = gitruns_cli(repo, "ls", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return sorted((r["id"], r["origin"]) for r in json.loads(result.stdout)), result.stderr


def test_plain_git_fetch_with_the_setup_refspec(nested: tuple[Path, Path, str, str]) -> None:
    bob, _remote, good, other = nested
    assert gitruns_cli(bob, "remote", "setup").returncode == 0
    git(bob, "fetch", "-q")
    assert f"evil/{other}" in runs_of(bob, "refs/remote-runs/origin/")
    listed, warnings = _listed(bob)
    assert listed == [(good, "origin")]
    assert f"refs/remote-runs/origin/evil/{other}" in warnings
    assert "not a run ref" in warnings
    assert [r.id for r in gitruns.list_runs(repo=bob)] == [good]
    assert [r.id for r in gitruns.search_runs("name = 'smuggled'", repo=bob)] == []


def test_plain_git_fetch_straight_into_refs_runs(nested: tuple[Path, Path, str, str]) -> None:
    bob, _remote, good, other = nested
    git(bob, "fetch", "-q", "origin", "refs/runs/*:refs/runs/*")
    assert f"evil/{other}" in runs_of(bob)
    listed, warnings = _listed(bob)
    assert listed == [(good, "local")]
    assert f"refs/runs/evil/{other}" in warnings and f"refs/runs/evil/{good}" in warnings
    for name in (other, f"evil/{other}", "smuggled"):
        shown = gitruns_cli(bob, "show", name)
        assert shown.returncode == 1 and "no run matches" in shown.stderr, name
    assert gitruns_cli(bob, "show", good).returncode == 0


def test_gitruns_fetch_and_pull_skip_nested_refs(nested: tuple[Path, Path, str, str]) -> None:
    bob, _remote, good, other = nested
    report = fetch_runs(store(bob), "origin")
    assert report.new == [good]
    assert {ref for ref, _ in report.invalid} == {
        f"refs/remote-runs/origin/evil/{other}",
        f"refs/remote-runs/origin/evil/{good}",
    }
    assert all("not a run ref" in why for _ref, why in report.invalid)
    assert set(runs_of(bob, "refs/remote-runs/origin/")) == {good}
    _fetched, integrated = pull_runs(store(bob), "origin")
    assert set(runs_of(bob)) == {good} and integrated.invalid == []
    assert _listed(bob)[0] == [(good, "local"), (good, "origin")]


def test_pull_after_plain_git_fetch_reports_nested_refs(
    nested: tuple[Path, Path, str, str],
) -> None:
    bob, _remote, good, other = nested
    assert gitruns_cli(bob, "remote", "setup").returncode == 0
    git(bob, "fetch", "-q")
    result = gitruns_cli(bob, "pull")
    assert result.returncode == 0, result.stderr
    assert f"refs/remote-runs/origin/evil/{other}" in result.stderr
    assert set(runs_of(bob)) == {good}


def test_a_bundle_with_nested_refs(nested: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    bob, remote, good, other = nested
    bundle = tmp_path / "runs.bundle"
    plumb(remote, "bundle", "create", str(bundle), f"refs/runs/{good}", f"refs/runs/evil/{other}")
    report = load_bundle(store(bob), bundle)
    assert report.integrated.added == [good]
    assert [ref for ref, _ in report.fetched.invalid] == [f"refs/remote-runs/bundle/evil/{other}"]
    assert set(runs_of(bob)) == {good}
    assert runs_of(bob, "refs/remote-runs/") == {}  # the transit refs are all cleared


def test_a_remote_name_with_a_slash_is_refused_for_fetching(tmp_path: Path) -> None:
    """refs/remote-runs/a/b/<id> could be remote 'a/b' or remote 'a''s nested ref."""
    team = make_team(tmp_path)
    git(team.bob, "remote", "add", "team/a", str(team.remote))
    for args in (("fetch", "team/a"), ("pull", "team/a"), ("remote", "setup", "team/a")):
        result = gitruns_cli(team.bob, *args)
        assert result.returncode == 1, args
        assert "gitruns: error: " in result.stderr and "git remote rename" in result.stderr
