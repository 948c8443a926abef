"""``gitruns import mlflow`` from stores made by real MLflow (file store and sqlite).

The store is written by tests/programs/mlflow_store.py run with real MLflow from inside the
test's repository (so MLflow records that repository's commit), which also dumps what
MLflow itself reads back. The import runs through the real CLI; every field is then
checked through gitruns' reader against MLflow's own reading, with ``git fsck --strict``
and a second import that must create nothing.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import fsck, git, gitruns_cli

from gitruns.format import layout
from gitruns.recording.artifacts import artifact_store
from gitruns.recording.repository import open_store
from gitruns.runs.model import Run, load_run

pytest.importorskip("mlflow")

PROGRAM = Path(__file__).parents[1] / "programs" / "mlflow_store.py"
pytestmark = pytest.mark.slow


def make_store(repo: Path, kind: str) -> tuple[str, dict[str, Any]]:
    """Write the store with real MLflow from inside ``repo``; return its location and
    MLflow's own reading of it."""
    shutil.copy(PROGRAM, repo / "make_store.py")
    git(repo, "add", "make_store.py")
    git(repo, "commit", "-q", "-m", "the training script")
    outside = repo.parent / f"mlflow-{kind}"
    outside.mkdir()
    location = (
        (outside / "mlruns").as_uri() if kind == "file" else f"sqlite:///{outside / 'mlflow.db'}"
    )
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet"}
    result = subprocess.run(
        [sys.executable, "make_store.py", location, str(outside / "artifacts"), "out.json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = json.loads((repo / "out.json").read_text())
    (repo / "out.json").unlink()
    return (str(outside / "mlruns") if kind == "file" else location), expected


def imported_runs(repo: Path) -> dict[str, Run]:
    """Every run of the repository by the MLflow run it came from."""
    store = open_store(repo)
    runs = [load_run(store, run_id, commit) for run_id, commit in store.run_refs().items()]
    return {run.tags["mlflow.run_id"]: run for run in runs}


def iso(ms: int) -> str:
    return layout.iso_time(ms / 1000)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_brings_every_field_and_is_idempotent(repo: Path, kind: str) -> None:
    location, expected = make_store(repo, kind)
    code_commit = git(repo, "rev-parse", "HEAD").strip()

    result = gitruns_cli(repo, "import", "mlflow", location, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"imported": 5, "skipped": 2, "changed": 0, "failed": 0}
    reasons = {r["name"]: r["reason"] for r in report["runs"] if r["outcome"] == "skipped"}
    assert reasons == {
        "thrown-away": "deleted in MLflow",
        "in-flight": "RUNNING in MLflow: import it once it has ended",
    }

    runs = imported_runs(repo)
    importable = {k: v for k, v in expected.items() if v["status"] != "RUNNING"}
    importable = {k: v for k, v in importable.items() if v["lifecycle_stage"] == "active"}
    assert set(runs) == set(importable)
    store = open_store(repo)
    for mlflow_id, want in importable.items():
        run = runs[mlflow_id]
        assert run.name == want["name"]
        assert run.status == want["status"]
        assert run.start_time == iso(want["start_time"])
        assert run.end_time == iso(want["end_time"])
        assert run.duration == round((want["end_time"] - want["start_time"]) / 1000, 3)
        assert run.experiment == want["experiment"]
        assert run.user["name"] == want["tags"]["mlflow.user"]
        assert run.params == want["params"]
        mapped = {"mlflow.runName", "mlflow.user", "mlflow.note.content", "mlflow.parentRunId"}
        tags = {k: v for k, v in want["tags"].items() if k not in mapped}
        assert run.tags == {**tags, "mlflow.run_id": mlflow_id}
        assert run.git["commit"] == code_commit == want["tags"]["mlflow.source.git.commit"]
        assert run.git["branch"] == want["tags"]["mlflow.source.git.branch"]
        assert run.document["command"] == {"entry_point": want["tags"]["mlflow.source.name"]}
        for key, points in want["metrics"].items():
            history = [
                [p.step, p.timestamp, None if math.isnan(p.value) else p.value]
                for p in run.metric_history(key)
            ]
            assert sorted(history, key=str) == sorted(points, key=str), key
        assert set(run.metrics) == set(want["metrics"])
        assert [a["path"] for a in run.artifacts] == want["artifacts"]
        # the run commit is dated as MLflow ended the run, not as it was imported
        committed = git(repo, "log", "-1", "--format=%at %ct", f"refs/runs/{run.id}").split()
        assert committed == [str(want["end_time"] // 1000)] * 2
        parents = git(repo, "rev-list", "--parents", "-1", f"refs/runs/{run.id}").split()[1:]
        assert parents[0] == code_commit
        parent_mlflow = want["tags"].get("mlflow.parentRunId")
        if parent_mlflow:
            parent = runs[parent_mlflow]
            assert run.parents == [parent.id]
            assert parents[1:] == [parent.commit]
        else:
            assert run.parents == [] and parents[1:] == []

    sweep = next(r for r in runs.values() if r.name == "sweep")
    assert [n["text"] for n in sweep.notes] == ["lr sweep"]
    assert sweep.metrics["val/acc"]["last_step"] == 40
    (model,) = sweep.artifacts
    content = artifact_store(store).object_path(model["sha256"]).read_text()
    assert content == "weights v1\n"
    pointer = git(repo, "cat-file", "-p", f"refs/runs/{sweep.id}:artifacts/models/model.txt")
    assert (
        pointer
        == f"version https://git-lfs.github.com/spec/v1\noid sha256:{model['sha256']}\nsize 11\n"
    )
    diverged = next(r for r in runs.values() if r.name == "diverged")
    assert diverged.status == "FAILED"
    fsck(repo)

    refs_before = git(repo, "for-each-ref", "refs/")
    again = gitruns_cli(repo, "import", "mlflow", location)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 imported, 7 skipped, 0 changed, 0 failed")
    assert git(repo, "for-each-ref", "refs/") == refs_before

    listing = gitruns_cli(repo, "ls", "-f", 'params.lr = 0.01 and status = "FINISHED"')
    assert listing.returncode == 0 and "sweep" in listing.stdout
    nlp = gitruns_cli(repo, "ls", "--experiment", "nlp")
    assert nlp.returncode == 0, nlp.stderr
    assert "diverged" in nlp.stdout and "nan-run" in nlp.stdout and "sweep" not in nlp.stdout


def test_only_the_named_experiment_and_dry_run(repo: Path) -> None:
    location, _expected = make_store(repo, "file")
    dry = gitruns_cli(repo, "import", "mlflow", location, "--experiment", "vision", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().endswith("3 would import, 0 skipped, 0 changed, 0 failed")
    assert git(repo, "for-each-ref", "refs/runs/") == ""

    real = gitruns_cli(repo, "import", "mlflow", location, "-e", "vision")
    assert real.stdout.strip().endswith("3 imported, 0 skipped, 0 changed, 0 failed")
    assert {r.experiment for r in imported_runs(repo).values()} == {"vision"}

    unknown = gitruns_cli(repo, "import", "mlflow", location, "-e", "audio")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("gitruns: error: ")
    assert "has no experiment 'audio'; its experiments are: Default, nlp, vision" in unknown.stderr
