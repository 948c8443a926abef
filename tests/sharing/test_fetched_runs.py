"""Fetched runs are first-class: real clones of a bare remote, plain git fetch and push.

Alice records and publishes; Bob, in his own clone, reads her runs with no ``pull``
(show, diff, metrics, plot, get_run), annotates one (which makes it a local run), and a
plain ``git push`` publishes the annotation to a third clone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sharing_helpers import Team, make_run, make_team, runs_of
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.errors import AmbiguousRunError

pytestmark = pytest.mark.slow


def _published(tmp_path: Path) -> tuple[Team, str, str]:
    """Alice records two runs and pushes them with plain git; Bob sets up and fetches."""
    team = make_team(tmp_path)
    first = make_run(team.alice, "baseline", model="mlp")
    with gitruns.start_run("tuned", repo=team.alice, params={"lr": 0.001}) as run:
        run.log_metric("loss", 0.4, step=0)
        run.log_metric("loss", 0.1, step=1)
        run.log_metric("acc", 0.9, step=1)
    for clone in (team.alice, team.bob):
        assert gitruns_cli(clone, "remote", "setup", "origin").returncode == 0
    git(team.alice, "push", "-q", "origin")
    git(team.bob, "fetch", "-q", "origin")
    assert runs_of(team.bob) == {}  # nothing local: every read below is of fetched runs
    return team, first, run.id


def test_fetched_runs_are_read_without_pull(tmp_path: Path) -> None:
    team, first, second = _published(tmp_path)
    for ref in (first, first[-8:], "baseline"):
        shown = gitruns_cli(team.bob, "show", ref)
        assert shown.returncode == 0, shown.stderr
        assert f"run       {first}" in shown.stdout
        assert "origin    origin (fetched; annotating it makes it a local run)" in shown.stdout
    data = json.loads(gitruns_cli(team.bob, "show", "tuned", "--format", "json").stdout)
    assert data["id"] == second and data["origin"] == "origin"
    diff = gitruns_cli(team.bob, "diff", "baseline", "tuned")
    assert diff.returncode == 0 and "lr" in diff.stdout, diff.stderr
    series = gitruns_cli(team.bob, "metrics", "tuned", "loss", "--format", "csv")
    assert [line.split(",")[2] for line in series.stdout.splitlines()[1:]] == ["0.4", "0.1"]
    plot = gitruns_cli(team.bob, "plot", "loss", "baseline", "tuned", "--style", "ascii")
    assert plot.returncode == 0 and "baseline" in plot.stdout and "tuned" in plot.stdout
    run = gitruns.get_run("tuned", repo=team.bob)
    assert run.id == second and run.origin == "origin"
    assert [p.value for p in run.metric_history("loss")] == [0.4, 0.1]
    listed = gitruns.search_runs("origin = 'origin'", repo=team.bob)
    assert {r.id for r in listed} == {first, second}
    assert runs_of(team.bob) == {}  # reading adopted nothing


def test_annotating_a_fetched_run_adopts_it_and_plain_push_publishes(tmp_path: Path) -> None:
    team, first, _second = _published(tmp_path)
    fetched_commit = runs_of(team.bob, "refs/remote-runs/origin/")[first]
    tagged = gitruns_cli(team.bob, "tag", "baseline", "reviewed=bob")
    assert tagged.returncode == 0, tagged.stderr
    assert runs_of(team.bob)[first] != fetched_commit  # a local run now, one commit ahead
    assert git(team.bob, "rev-parse", f"{runs_of(team.bob)[first]}^").strip() == fetched_commit
    assert gitruns_cli(team.bob, "note", first[-8:], "checked the loss curve").returncode == 0
    git(team.bob, "push", "-q", "origin")  # plain git push: the annotations travel
    carol = tmp_path / "carol"
    git(tmp_path, "clone", "-q", str(team.remote), str(carol))
    assert gitruns_cli(carol, "remote", "setup", "origin").returncode == 0
    git(carol, "fetch", "-q", "origin")
    shown = gitruns_cli(carol, "show", "baseline")
    assert "reviewed  bob" in shown.stdout and "checked the loss curve" in shown.stdout
    # Alice's own copy is behind: show says so, and pull brings it in.
    git(team.alice, "fetch", "-q", "origin")
    behind = gitruns_cli(team.alice, "show", "baseline")
    assert "reviewed" not in behind.stdout and "gitruns pull origin" in behind.stderr
    assert gitruns_cli(team.alice, "pull").returncode == 0
    assert "reviewed  bob" in gitruns_cli(team.alice, "show", "baseline").stdout
    for clone in (team.alice, team.bob, carol):
        fsck(clone)


def test_divergent_annotations_of_an_adopted_run_still_merge(tmp_path: Path) -> None:
    team, first, _second = _published(tmp_path)
    assert gitruns_cli(team.bob, "tag", "baseline", "by=bob").returncode == 0
    assert gitruns_cli(team.alice, "tag", "baseline", "seen=alice").returncode == 0
    git(team.alice, "push", "-q", "origin")
    pulled = gitruns_cli(team.bob, "pull")
    assert pulled.returncode == 0 and f"merged   {first}" in pulled.stdout
    tags = json.loads(gitruns_cli(team.bob, "show", first, "--format", "json").stdout)["tags"]
    assert tags == {"by": "bob", "model": "mlp", "seen": "alice"}


def test_local_shadows_fetched_and_rm_falls_back_to_the_fetched_copy(tmp_path: Path) -> None:
    team, first, _second = _published(tmp_path)
    assert gitruns_cli(team.alice, "tag", "baseline", "local=yes").returncode == 0
    assert "  local  yes" in gitruns_cli(team.alice, "show", first).stdout  # not origin's copy
    assert gitruns_cli(team.alice, "rm", "--yes", first).returncode == 0
    listed = gitruns_cli(team.alice, "ls", "-q")
    assert first in listed.stdout.split()  # origin still has it
    shown = gitruns_cli(team.alice, "show", first)
    assert shown.returncode == 0 and "origin    origin (fetched" in shown.stdout
    refused = gitruns_cli(team.alice, "rm", "--yes", first)
    assert refused.returncode == 1 and "fetched from origin" in refused.stderr


def test_a_name_from_two_origins_is_ambiguous(tmp_path: Path) -> None:
    team, first, _second = _published(tmp_path)
    mine = make_run(team.bob, "baseline")
    with pytest.raises(AmbiguousRunError) as caught:
        gitruns.get_run("baseline", repo=team.bob)
    assert set(caught.value.candidates) == {first, mine}
    result = gitruns_cli(team.bob, "show", "baseline")
    assert result.returncode == 1
    assert f"{first} (origin)" in result.stderr and f"{mine} (local)" in result.stderr
    assert "by its id" in result.stderr
    assert gitruns.get_run(mine, repo=team.bob).origin == "local"
    exact = gitruns.get_run(f"refs/remote-runs/origin/{first}", repo=team.bob)
    assert exact.id == first and exact.origin == "origin"


def test_first_look_in_a_fresh_clone(tmp_path: Path) -> None:
    team, _first, _second = _published(tmp_path)
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(team.remote), str(fresh))
    empty = gitruns_cli(fresh, "ls")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "origin has 2 run(s)" in empty.stderr
    assert "gitruns remote setup origin" in empty.stderr and "git fetch origin" in empty.stderr
    assert gitruns_cli(fresh, "remote", "setup", "origin").returncode == 0
    assert "run 'git fetch origin'" in gitruns_cli(fresh, "ls").stderr
    git(fresh, "fetch", "-q", "origin")
    listed = gitruns_cli(fresh, "ls")
    assert "baseline" in listed.stdout and "origin" in listed.stdout
    assert "fetched from origin" in listed.stderr
    nothing = tmp_path / "nothing"
    git(tmp_path, "init", "-q", str(nothing))
    assert "no runs yet: record one" in gitruns_cli(nothing, "ls").stderr
