"""MLflow-style programs (tests/programs/mlflow/), each importing only ``gitruns.mlflow as
mlflow``, run as real subprocesses in a real git repository; the recorded runs are checked."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fsck, gitruns_cli

import gitruns

PROGRAMS = Path(__file__).resolve().parents[1] / "programs" / "mlflow"


def run_program(repo: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(PROGRAMS / name), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return result


def test_quickstart(repo: Path) -> None:
    result = run_program(repo, "quickstart_tracking.py")
    assert "records runs in the git repository" in result.stderr
    (run,) = gitruns.search_runs()
    assert run.name == "quickstart" and run.experiment == "quickstart"
    assert run.status == "FINISHED"
    assert run.params == {"param1": 5, "optimizer": "sgd", "seed": 42}
    assert [p.value for p in run.metric_history("foo")] == [0.0, 1.5, 3.0]
    assert run.metrics["is_best"]["last"] == 1.0 and run.metrics["baz"]["last"] == 7.0
    assert run.tags == {"stage": "demo"}
    assert run.notes[0]["text"] == "a first tracked run"
    paths = sorted(a["path"] for a in run.artifacts)
    assert paths == [
        "config/model.yaml",
        "notes/readme.txt",
        "outputs/test.txt",
        "test.txt",
    ]
    assert f"run_id {run.id}" in result.stdout
    assert f"artifact_uri runs:/{run.id}" in result.stdout
    assert "last FINISHED" in result.stdout and "tracking file:./mlruns" in result.stdout
    fsck(repo)


def test_elasticnet_wine(repo: Path) -> None:
    pytest.importorskip("numpy")
    result = run_program(repo, "elasticnet_wine.py", "0.3", "0.7")
    (run,) = gitruns.search_runs()
    assert run.params == {"alpha": 0.3, "l1_ratio": 0.7, "data_path": "data/winequality-red.csv"}
    assert set(run.metrics) == {"rmse", "r2", "mae"}
    assert 0 < run.metrics["rmse"]["last"] < 1 and run.metrics["r2"]["last"] > 0.5
    assert [a["path"] for a in run.artifacts] == ["model/coef.npy"]
    assert "log_model: mlflow.sklearn.log_model is not part of gitruns.mlflow;" in result.stdout
    listed = gitruns_cli(repo, "ls", "-f", "metrics.rmse < 1 and params.alpha = 0.3", "-q")
    assert listed.stdout.split() == [run.id]


def test_nested_runs_and_search(repo: Path) -> None:
    pytest.importorskip("pandas")
    result = run_program(repo, "nested_runs_search.py")
    runs = {r.name: r for r in gitruns.search_runs()}
    parent, child = runs["PARENT_RUN"], runs["CHILD_RUN"]
    assert child.parents == [parent.id]
    assert {parent.experiment, child.experiment} == {"nested"}
    assert [(p.step, p.value) for p in child.metric_history("score")] == [(0, 0.5), (2, 0.75)]
    assert "step -1 is stored as step 0" in result.stderr
    out = result.stdout
    assert f"run_id: {parent.id}" in out and "params: {'parent': 'yes'}" in out
    assert "status: FINISHED" in out
    columns = out.split("columns: ")[1].splitlines()[0].split(",")
    assert columns[:6] == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert "tags.mlflow.runName" in columns and "params.child" in columns
    assert "found: CHILD_RUN" in out and f"parent of child: {parent.id}" in out
    assert "listed: PARENT_RUN,CHILD_RUN" in out


def test_parent_child_tuning(repo: Path) -> None:
    pytest.importorskip("pandas")
    result = run_program(repo, "parent_child_tuning.py")
    out = result.stdout
    assert "experiment: tuning True" in out
    assert "children: 3" in out and "best: trial-1 0.01" in out
    assert "tagged: trial-1" in out and "client run: FINISHED" in out
    assert "experiments: Default,tuning" in out
    runs = {r.name: r for r in gitruns.search_runs()}
    sweep = runs["sweep"]
    assert sweep.tags == {"best_trial": "trial-1"}  # set on the finished run: an annotation
    assert sweep.notes[0]["text"] == "learning-rate sweep"
    for trial in ("trial-0", "trial-1", "trial-2"):
        assert runs[trial].parents == [sweep.id] and runs[trial].experiment == "tuning"
    assert runs["client-run"].params == {"source": "client"}
    assert runs["client-run"].parents == []  # a client run is never nested by accident
    shown = gitruns_cli(repo, "ls", "--experiment", "tuning", "-q").stdout.split()
    assert len(shown) == 5
    fsck(repo)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("tensorboardX") is None,
    reason="needs torch and tensorboardX (the frameworks extra)",
)
def test_pytorch_tensorboard(repo: Path) -> None:
    result = run_program(repo, "pytorch_tensorboard.py")
    (run,) = gitruns.search_runs()
    assert run.params == {"lr": 0.1, "device": "cpu", "epochs": 2}
    assert run.metrics["train_loss"]["count"] == 8 and run.metrics["train_loss"]["last_step"] == 7
    assert run.metrics["test_accuracy"]["count"] == 2
    paths = [a["path"] for a in run.artifacts]
    assert "model/model.pt" in paths
    assert any(p.startswith("events/events.out.tfevents.") for p in paths)
    assert "events: 2" in result.stdout  # the event file and the saved model


def test_under_gitruns_record_the_script_joins_the_recorded_run(repo: Path) -> None:
    result = gitruns_cli(
        repo,
        "record",
        "--experiment",
        "outer",
        "--",
        sys.executable,
        str(PROGRAMS / "quickstart_tracking.py"),
    )
    assert result.returncode == 0, result.stderr
    (run,) = gitruns.search_runs()  # one run: the script's start_run joined it
    assert run.name == "quickstart"
    assert run.experiment == "quickstart"  # the script's set_experiment wins
    assert run.params["param1"] == 5 and run.metrics["foo"]["count"] == 3
    assert run.document["command"]["entry_point"].endswith("quickstart_tracking.py")
    assert "run_id " + run.id in result.stdout
