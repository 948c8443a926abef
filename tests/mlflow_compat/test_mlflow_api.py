"""gitruns.mlflow in-process: coercion, experiments, the client, artifacts, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import gitruns
import gitruns.mlflow as mlflow
from gitruns.errors import GitrunsError, RunStateError
from gitruns.mlflow.exceptions import MlflowException, UnsupportedError
from gitruns.mlflow.tracking import MlflowClient


@pytest.fixture(autouse=True)
def _fresh_mlflow_state() -> None:
    from gitruns.mlflow import experiments, fluent

    experiments._created.clear()
    fluent._tracking_uri.clear()


def test_import_is_light() -> None:
    """Nothing heavy (pygit2, pandas, the API) loads with the import."""
    code = (
        "import sys, gitruns.mlflow as m; "
        "print(sorted(n for n in ('pygit2', 'pandas', 'gitruns.api', 'numpy') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_metric_coercion(repo: Path) -> None:
    np = pytest.importorskip("numpy")
    with mlflow.start_run() as run:
        mlflow.log_metric("is_best", True)
        mlflow.log_metric("flag", False, step=1)
        mlflow.log_metric("np", np.float32(0.5), step=np.int64(3))
        mlflow.log_metric("arr", np.array([2.5]))
        mlflow.log_metric("unstepped", 1.0)
        mlflow.log_metric("unstepped", 2.0)
        with pytest.warns(UserWarning, match="step 2.5 is stored as step 2"):
            mlflow.log_metric("frac", 1.0, step=2.5)
        with pytest.raises(MlflowException, match="is not a number"):
            mlflow.log_metric("bad", "high")
        with pytest.raises(MlflowException, match="not a single number"):
            mlflow.log_metric("bad", np.array([1.0, 2.0]))
    data = mlflow.get_run(run.info.run_id).data
    assert data.metrics == {
        "is_best": 1.0,
        "flag": 0.0,
        "np": 0.5,
        "arr": 2.5,
        "unstepped": 2.0,
        "frac": 1.0,
    }
    history = MlflowClient().get_metric_history(run.info.run_id, "unstepped")
    assert [m.step for m in history] == [0, 0]  # MLflow's default step is 0
    assert [m.step for m in MlflowClient().get_metric_history(run.info.run_id, "np")] == [3]


def test_params_are_stored_as_mlflow_text_unless_plain(repo: Path) -> None:
    with mlflow.start_run() as run:
        assert mlflow.log_param("path", Path("/data/x.csv")) == Path("/data/x.csv")
        mlflow.log_params({"lr": 0.01, "layers": [64, 32], "cfg": {"a": 1}, "none": None})
        mlflow.log_param("flag", True)
    stored = gitruns.get_run(run.info.run_id).params
    assert stored == {
        "path": "/data/x.csv",
        "lr": 0.01,
        "layers": "[64, 32]",
        "cfg": "{'a': 1}",
        "none": "None",
        "flag": True,
    }
    params = mlflow.get_run(run.info.run_id).data.params
    assert params == {
        "path": "/data/x.csv",
        "lr": "0.01",
        "layers": "[64, 32]",
        "cfg": "{'a': 1}",
        "none": "None",
        "flag": "True",
    }


def test_info_data_and_system_tags(repo: Path) -> None:
    with mlflow.start_run(run_name="r1", description="why", tags={"team": 7}) as run:
        mlflow.set_tag("stage", 2)
        mlflow.set_tags({"mlflow.runName": "renamed", "x": "y"})
        mlflow.delete_tag("x")
        info = run.info
        assert info.status == "RUNNING" and info.end_time is None
        assert info.run_name == "renamed" and info.experiment_id == "0"
        assert info.artifact_uri == f"runs:/{info.run_id}"
        assert mlflow.active_run().info.run_id == info.run_id
    assert mlflow.active_run() is None
    mlflow.end_run()  # no active run: nothing happens
    done = mlflow.last_active_run()
    assert done is not None and done.info.status == "FINISHED"
    assert done.info.end_time >= done.info.start_time > 0
    tags = done.data.tags
    assert tags["team"] == "7" and tags["stage"] == "2" and "x" not in tags
    assert tags["mlflow.runName"] == "renamed" and tags["mlflow.note.content"] == "why"
    assert tags["mlflow.user"] == done.info.user_id
    assert done.info.lifecycle_stage == "active"


def test_parent_run_id_and_nested(repo: Path) -> None:
    with mlflow.start_run() as outer:
        with mlflow.start_run(parent_run_id=outer.info.run_id) as inner:
            pass
        with pytest.raises(RunStateError, match="already active"):
            mlflow.start_run()
    later = mlflow.start_run(parent_run_id=outer.info.run_id)  # a lineage parent, not active
    mlflow.end_run()
    for child in (inner, later):
        got = mlflow.get_run(child.info.run_id)
        assert got.data.tags["mlflow.parentRunId"] == outer.info.run_id


def test_resuming_a_finished_run_is_refused(repo: Path) -> None:
    with mlflow.start_run() as run:
        same = mlflow.start_run(run_id=run.info.run_id)
        assert same.info.run_id == run.info.run_id
    with pytest.raises(MlflowException, match="cannot resume run") as caught:
        mlflow.start_run(run_id=run.info.run_id)
    assert "parent_run_id" in caught.value.hint
    with pytest.raises(MlflowException, match="not being recorded by this process"):
        mlflow.log_metrics({"a": 1.0}, run_id=run.info.run_id)


def test_logging_with_no_active_run_starts_one(repo: Path) -> None:
    mlflow.log_metric("auto", 1.0)
    active = mlflow.active_run()
    assert active is not None
    mlflow.end_run()
    assert mlflow.get_run(active.info.run_id).data.metrics == {"auto": 1.0}


def test_experiments(repo: Path) -> None:
    assert [e.name for e in mlflow.search_experiments()] == ["Default"]
    assert mlflow.get_experiment("0").name == "Default"
    made = mlflow.create_experiment("exp-a", tags={"k": 1})
    assert made.isdigit() and made != "0"
    assert mlflow.get_experiment(made).tags == {"k": "1"}
    with pytest.raises(MlflowException, match="already exists"):
        mlflow.create_experiment("exp-a")
    chosen = mlflow.set_experiment("exp-b")
    assert chosen.name == "exp-b" and gitruns.get_experiment() == "exp-b"
    with mlflow.start_run() as in_b:
        pass
    with mlflow.start_run(experiment_id=made) as in_a:
        pass
    assert mlflow.get_run(in_b.info.run_id).info.experiment_id == chosen.experiment_id
    assert gitruns.get_run(in_a.info.run_id).experiment == "exp-a"
    assert mlflow.get_experiment_by_name("exp-b").experiment_id == chosen.experiment_id
    assert mlflow.get_experiment_by_name("nope") is None
    with pytest.raises(MlflowException, match="no experiment has id"):
        mlflow.get_experiment("123")
    names = [e.name for e in mlflow.search_experiments(filter_string="name LIKE 'exp-%'")]
    assert names == ["exp-a", "exp-b"]
    with pytest.raises(MlflowException, match="filter experiments by name"):
        mlflow.search_experiments(filter_string="tags.k = '1'")


def test_experiment_ids_are_the_same_in_every_process(repo: Path) -> None:
    here = mlflow.create_experiment("shared")
    code = "import gitruns.mlflow.entities as e; print(e.experiment_id('shared'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def test_search_runs_scopes_to_the_active_experiment(repo: Path) -> None:
    pytest.importorskip("pandas")
    with mlflow.start_run(run_name="default-run"):
        mlflow.log_metric("m", 1.0)
    mlflow.set_experiment("other")
    with mlflow.start_run(run_name="other-run"):
        mlflow.log_metric("m", 2.0)
    assert list(mlflow.search_runs()["tags.mlflow.runName"]) == ["other-run"]
    assert list(mlflow.search_runs(experiment_ids=["0"])["tags.mlflow.runName"]) == ["default-run"]
    both = mlflow.search_runs(search_all_experiments=True, order_by=["metrics.m DESC"])
    assert list(both["metrics.m"]) == [2.0, 1.0]
    assert str(both["start_time"].dtype).startswith("datetime64")
    by_name = mlflow.search_runs(experiment_names=["other", "Default"], max_results=1)
    assert len(by_name) == 1
    empty = mlflow.search_runs(filter_string="metrics.m > 5")
    assert list(empty.columns)[:6] == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    listed = mlflow.search_runs(output_format="list", filter_string="metrics.m = 2")
    assert [r.info.run_name for r in listed] == ["other-run"]


def test_search_runs_without_pandas_is_a_clear_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MlflowException, match="pandas is not installed") as caught:
        mlflow.search_runs()
    assert "output_format='list'" in caught.value.hint


def test_artifact_writers_and_client_download(repo: Path, tmp_path: Path) -> None:
    with mlflow.start_run() as run:
        mlflow.log_dict({"a": [1, 2]}, "cfg/params.json")
        mlflow.log_dict({"a": 1}, "cfg/params.yaml")
        mlflow.log_text("hi", "readme.md")
        mlflow.log_table({"x": [1, 2], "y": ["a", "b"]}, "tables/t.json")
        folder = tmp_path / "out"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.txt").write_text("a")
        (folder / "sub" / "b.txt").write_text("b")
        mlflow.log_artifacts(folder, artifact_path="dir")
        mlflow.log_artifacts(folder)
        assert mlflow.get_artifact_uri("dir") == f"runs:/{run.info.run_id}/dir"
        with pytest.raises(MlflowException, match=r"does not end in \.json"):
            mlflow.log_table({"x": [1]}, "t.csv")
    client = MlflowClient()
    top = client.list_artifacts(run.info.run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("a.txt", False),
        ("cfg", True),
        ("dir", True),
        ("readme.md", False),
        ("sub", True),
        ("tables", True),
    ]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "dir/sub")] == ["dir/sub/b.txt"]
    local = Path(client.download_artifacts(run.info.run_id, "cfg", str(tmp_path / "dl")))
    assert json.loads((local / "params.json").read_text()) == {"a": [1, 2]}
    assert (local / "params.yaml").read_text() == "a: 1\n"
    table = Path(client.download_artifacts(run.info.run_id, "tables/t.json", str(tmp_path / "t")))
    assert json.loads(table.read_text()) == {"columns": ["x", "y"], "data": [[1, "a"], [2, "b"]]}
    with pytest.raises(MlflowException, match="has no artifact"):
        client.download_artifacts(run.info.run_id, "missing")


def test_log_image_and_figure(repo: Path) -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("PIL")
    with mlflow.start_run() as run:
        mlflow.log_image(np.zeros((4, 5, 3), dtype=np.uint8), "img/black.png")
        mlflow.log_image(np.ones((4, 5)), key="samples", step=3)
        with pytest.raises(MlflowException, match=r"values in \[0, 1\]"):
            mlflow.log_image(np.full((2, 2), 2.0), "bad.png")
        with pytest.raises(MlflowException, match="exactly one of artifact_file and key"):
            mlflow.log_image(np.zeros((2, 2)))
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots()
        axes.plot([1, 2], [3, 4])
        mlflow.log_figure(figure, "plots/line.png")
    found = {a["path"]: a for a in gitruns.get_run(run.info.run_id).artifacts}
    assert set(found) == {"img/black.png", "images/samples/step_3.png", "plots/line.png"}
    assert found["images/samples/step_3.png"]["step"] == 3
    assert found["plots/line.png"]["media_type"] == "image/png"


def test_client_runs_and_annotations(repo: Path) -> None:
    with pytest.warns(UserWarning, match="not at the tracking URI 'sqlite:///mlflow.db'"):
        client = MlflowClient(tracking_uri="sqlite:///mlflow.db")
    made = client.create_run("0", run_name="c", tags={"mlflow.note.content": "n", "t": 1})
    run_id = made.info.run_id
    assert mlflow.active_run() is None  # a client run is never the active run
    client.log_batch(
        run_id,
        metrics=[mlflow.entities.Metric("m", 1.0, 1_790_000_000_000, 4)],
        params=[mlflow.entities.Param("p", "v")],
        tags=[mlflow.entities.RunTag("k", "v")],
    )
    client.set_terminated(run_id, "FAILED")
    got = client.get_run(run_id)
    assert got.info.status == "FAILED" and got.data.params == {"p": "v"}
    assert got.data.tags["t"] == "1" and got.data.tags["mlflow.note.content"] == "n"
    assert [(m.step, m.timestamp) for m in client.get_metric_history(run_id, "m")] == [
        (4, 1_790_000_000_000)
    ]
    client.set_tag(run_id, "after", "yes")  # a recorded run: an annotation commit
    client.delete_tag(run_id, "k")
    client.set_tag(run_id, "mlflow.runName", "c2")
    assert gitruns.get_run(run_id).tags == {"t": "1", "after": "yes"}
    assert gitruns.get_run(run_id).name == "c2"
    with pytest.raises(MlflowException, match="not being recorded"):
        client.log_metric(run_id, "m", 2.0)
    assert [r.info.run_id for r in client.search_runs(["0"])] == [run_id]
    client.delete_run(run_id)
    assert client.search_runs(["0"]) == []


def test_unsupported_parts_name_the_gitruns_way(repo: Path) -> None:
    for call in (
        lambda: mlflow.sklearn.log_model(object(), "model"),
        lambda: mlflow.pytorch.load_model("runs:/x/model"),
        lambda: mlflow.register_model("runs:/x/model", "m"),
        lambda: MlflowClient().create_registered_model("m"),
        lambda: mlflow.log_input(None),
    ):
        with pytest.raises(UnsupportedError) as caught:
            call()
        assert isinstance(caught.value, GitrunsError)
        assert "is not part of gitruns.mlflow" in caught.value.message and caught.value.hint
    with pytest.raises(AttributeError):
        mlflow.no_such_function  # noqa: B018


def test_tracking_uri_is_accepted_with_one_warning(repo: Path) -> None:
    with pytest.warns(UserWarning, match="records runs in the git repository"):
        mlflow.set_tracking_uri("http://localhost:5000")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlflow.set_tracking_uri("file:./mlruns")  # once per process
    assert mlflow.get_tracking_uri() == "file:./mlruns"
    assert mlflow.is_tracking_uri_set()


def test_autolog_is_gitruns_autolog_and_takes_mlflow_options(repo: Path) -> None:
    """mlflow.autolog(log_models=..., silent=...) wires the installed frameworks as
    gitruns.autolog() does, and disable=True undoes it."""
    pytest.importorskip("xgboost")
    script = (
        "import gitruns.mlflow as mlflow\n"
        "from gitruns.integrations.autolog import wired\n"
        "mlflow.autolog(log_models=False, silent=True)\n"
        "import xgboost\n"
        "assert 'xgboost' in wired(), wired()\n"
        "mlflow.autolog(disable=True)\n"
        "assert wired() == [], wired()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
