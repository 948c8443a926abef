"""One bad run never hides the others (issue 15, items 3 and 4): a run with missing objects
or absurd values is skipped and reported by ls, show, list_runs and pull, locally and when
it was fetched, and the others are listed as usual."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest
from _sharing_helpers import make_run, make_team
from conftest import git, gitruns_cli

import gitruns
from gitruns.format.ids import new_run_id

MISSING = "1234567890abcdef1234567890abcdef12345678"


def _broken_copy(repo: Path, good_id: str, what: str) -> str:
    """A copy of run ``good_id`` under a new id, with one object missing: the blob of
    ``params.yaml``, the ``metrics`` folder, or the commit itself."""
    bad_id = new_run_id()
    commit = git(repo, "rev-parse", f"refs/runs/{good_id}").strip()
    if what == "commit":
        (repo / ".git" / "refs" / "runs" / bad_id).write_text(MISSING + "\n")
        return bad_id
    run_yaml = git(repo, "show", f"{commit}:run.yaml").replace(good_id, bad_id)
    blob = _git_in(repo, run_yaml, "hash-object", "-w", "--stdin")
    lines = []
    for line in git(repo, "ls-tree", commit).splitlines():
        meta, name = line.split("\t")
        mode, kind, oid = meta.split()
        if name == "run.yaml":
            oid = blob
        if (what == "blob" and name == "params.yaml") or (what == "tree" and name == "metrics"):
            oid = MISSING
        lines.append(f"{mode} {kind} {oid}\t{name}")
    tree = _git_in(repo, "\n".join(lines) + "\n", "mktree", "--missing")
    bad = git(repo, "commit-tree", tree, "-m", "broken").strip()
    git(repo, "update-ref", f"refs/runs/{bad_id}", bad)
    return bad_id


def _git_in(cwd: Path, text: str, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("what", ["blob", "commit"])
def test_a_run_with_missing_objects_hides_no_other(repo: Path, what: str) -> None:
    good = make_run(repo, "good")
    bad = _broken_copy(repo, good, what)
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert good in listed.stdout and bad not in listed.stdout
    assert f"skipping refs/runs/{bad}" in listed.stderr and "is missing" in listed.stderr
    assert "Traceback" not in listed.stderr
    shown = gitruns_cli(repo, "show", "good")
    assert shown.returncode == 0 and good in shown.stdout, shown.stderr
    refused = gitruns_cli(repo, "show", bad)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("gitruns: error: ") and len(refused.stderr.splitlines()) == 1
    with pytest.warns(gitruns.SkippedRunsWarning, match="cannot be read"):
        runs = gitruns.list_runs()
    assert [r.id for r in runs] == [good]
    assert [ref for ref, _ in runs.skipped] == [f"refs/runs/{bad}"]
    listed_again = gitruns_cli(repo, "ls", "--filter", "params.lr > 0")
    assert listed_again.returncode == 0 and "good" in listed_again.stdout


def test_a_run_missing_its_metrics_folder_still_lists(repo: Path) -> None:
    """Listing reads the summaries, not the series: such a run is listed; reading its
    series says what is missing instead of crashing."""
    good = make_run(repo, "good")
    bad = _broken_copy(repo, good, "tree")
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0 and bad in listed.stdout, listed.stderr
    metrics = gitruns_cli(repo, "metrics", bad, "loss")
    assert metrics.returncode == 1 and "is missing" in metrics.stderr, metrics.stderr
    assert "Traceback" not in metrics.stderr


def test_pull_and_fetch_carry_on_past_a_broken_local_run(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    theirs = make_run(team.alice, "from-alice")
    assert gitruns_cli(team.alice, "push").returncode == 0
    mine = make_run(team.bob, "mine")
    bad = _broken_copy(team.bob, mine, "blob")
    pulled = gitruns_cli(team.bob, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert "Traceback" not in pulled.stderr
    listed = gitruns_cli(team.bob, "ls", "--format", "csv")
    assert theirs in listed.stdout and mine in listed.stdout and bad not in listed.stdout


HUGE = 2**1024


def test_huge_integer_params_are_stored_and_shown_exactly(repo: Path) -> None:
    """An int param >= 2**1024 made ls, show and list_runs fail with OverflowError."""
    with gitruns.start_run(name="huge", params={"n": HUGE, "neg": -(10**400)}) as run:
        run.log_metric("loss", 0.5)
    make_run(repo, "plain")
    listed = gitruns_cli(repo, "ls", "--format", "csv")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert str(HUGE) in listed.stdout and "plain" in listed.stdout
    shown = gitruns_cli(repo, "show", "huge", "--format", "json")
    assert shown.returncode == 0 and str(HUGE) in shown.stdout, shown.stderr
    assert gitruns_cli(repo, "show", "huge").returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = {r.name: r for r in gitruns.list_runs()}
    assert runs["huge"].params == {"n": HUGE, "neg": -(10**400)}
    assert [r.name for r in gitruns.search_runs(f"params.n = {HUGE}")] == ["huge"]
    assert [r.name for r in gitruns.search_runs(f"params.n > {HUGE - 1}")] == ["huge"]
    assert [r.name for r in gitruns.search_runs("params.neg < 0")] == ["huge"]
    ordered = gitruns_cli(repo, "ls", "--sort", "params.n", "--format", "csv")
    assert ordered.returncode == 0, ordered.stderr


def test_a_remote_serving_a_huge_int_run_breaks_no_teammate(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    with gitruns.start_run(name="huge", repo=team.alice, params={"n": HUGE}) as run:
        run.log_metric("loss", 0.5)
    make_run(team.alice, "plain")
    assert gitruns_cli(team.alice, "push").returncode == 0
    for command in (["fetch"], ["pull"]):
        result = gitruns_cli(team.bob, *command)
        assert result.returncode == 0, result.stderr
        listed = gitruns_cli(team.bob, "ls", "--format", "csv")
        assert listed.returncode == 0 and listed.stderr == "", listed.stderr
        assert str(HUGE) in listed.stdout and "plain" in listed.stdout
    assert gitruns.get_run(run.id, repo=team.bob).params == {"n": HUGE}
