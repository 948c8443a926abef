"""`gitruns bundle create` / `load`: runs through a file, for air-gapped machines."""

from __future__ import annotations

from pathlib import Path

from _sharing_helpers import make_run, make_team, runs_of, store
from conftest import fsck, git, gitruns_cli

from gitruns.runs import annotate
from gitruns.runs.model import read_run_document
from gitruns.sharing import create_bundle, load_bundle


def test_bundle_round_trip_into_a_fresh_repository(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    ids = [make_run(team.alice, f"r{i}") for i in range(2)]
    made = gitruns_cli(team.alice, "bundle", "create", str(tmp_path / "runs.bundle"))
    assert made.returncode == 0, made.stderr
    offline = tmp_path / "offline"
    git(tmp_path, "init", "-q", str(offline))
    loaded = gitruns_cli(offline, "bundle", "load", str(tmp_path / "runs.bundle"))
    assert loaded.returncode == 0, loaded.stderr
    assert sorted(runs_of(offline)) == sorted(ids)
    assert runs_of(offline, "refs/remote-runs/") == {}
    fsck(offline)


def test_bundle_of_named_runs_merges_divergent_annotations(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice, "shared")
    other = make_run(team.alice, "not-in-bundle")
    create_bundle(store(team.alice), tmp_path / "one.bundle", [run_id])
    load_bundle(store(team.bob), tmp_path / "one.bundle")
    assert list(runs_of(team.bob)) == [run_id]
    annotate.add_note(store(team.alice), run_id, "from alice")
    annotate.add_note(store(team.bob), run_id, "from bob")
    create_bundle(store(team.alice), tmp_path / "two.bundle", [run_id])
    report = load_bundle(store(team.bob), tmp_path / "two.bundle")
    assert list(report.integrated.merged) == [run_id]
    document = read_run_document(store(team.bob), run_id, runs_of(team.bob)[run_id])
    assert sorted(n["text"] for n in document["notes"]) == ["from alice", "from bob"]
    assert other not in runs_of(team.bob)


def test_bad_bundle_file_is_a_clear_error(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    (tmp_path / "junk.bundle").write_bytes(b"not a bundle")
    result = gitruns_cli(team.bob, "bundle", "load", str(tmp_path / "junk.bundle"))
    assert result.returncode == 1 and "is not a git bundle" in result.stderr
    assert "fetch the project's code" not in result.stderr  # not a missing-history problem
    empty = gitruns_cli(team.bob, "bundle", "create", str(tmp_path / "x.bundle"))
    assert empty.returncode == 1 and "no runs to bundle" in empty.stderr
