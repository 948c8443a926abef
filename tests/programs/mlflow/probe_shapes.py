"""The same MLflow calls on real ``mlflow`` (argument ``real``) or on ``gitruns.mlflow``
(``gitruns``); prints the shapes and values that code reading them depends on, as JSON."""

import json
import sys
import warnings

warnings.filterwarnings("ignore")
if sys.argv[1] == "real":
    import mlflow
else:
    import gitruns.mlflow as mlflow

import numpy as np  # noqa: E402 - after the choice of mlflow

INFO = ["run_id", "run_name", "experiment_id", "user_id", "status", "start_time", "end_time"]
INFO += ["artifact_uri", "lifecycle_stage"]
SYSTEM_TAGS = ["mlflow.runName", "mlflow.user", "mlflow.source.name", "mlflow.note.content"]
SYSTEM_TAGS += ["mlflow.parentRunId", "mlflow.source.type"]

shapes = {}
mlflow.end_run()  # no run: nothing happens
experiment = mlflow.set_experiment("probe")
shapes["experiment"] = {
    "id_type": type(experiment.experiment_id).__name__,
    "name": experiment.name,
    "lifecycle_stage": experiment.lifecycle_stage,
    "tags": experiment.tags,
}
with mlflow.start_run(run_name="outer", description="about", tags={"t": 1}) as outer:
    mlflow.log_metric("flag", True)
    mlflow.log_metric("np32", np.float32(0.5), step=2)
    mlflow.log_metrics({"a": 1, "b": np.float64(2.5)}, step=1)
    mlflow.log_param("path", __import__("pathlib").Path("/x/y"))
    mlflow.log_params({"lr": 0.01, "layers": [1, 2], "none": None, "yes": True})
    mlflow.set_tag("n", 3)
    with mlflow.start_run(run_name="inner", nested=True) as inner:
        mlflow.log_metric("m", 1)
    running = {k: type(getattr(outer.info, k)).__name__ for k in INFO}
run = mlflow.get_run(outer.info.run_id)
child = mlflow.get_run(inner.info.run_id)
shapes["running_info_types"] = running
shapes["info_types"] = {k: type(getattr(run.info, k)).__name__ for k in INFO}
shapes["status"] = run.info.status
shapes["metrics"] = run.data.metrics
shapes["params"] = run.data.params
shapes["user_tags"] = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
shapes["system_tags"] = sorted(k for k in run.data.tags if k in SYSTEM_TAGS)
shapes["child_parent_is_outer"] = child.data.tags["mlflow.parentRunId"] == outer.info.run_id
shapes["note"] = run.data.tags["mlflow.note.content"]
shapes["last_active"] = mlflow.last_active_run().info.run_id == outer.info.run_id
frame = mlflow.search_runs(order_by=["start_time ASC"])
shapes["columns_head"] = list(frame.columns[:6])
shapes["columns"] = sorted(frame.columns)
shapes["dtypes"] = {c: str(frame[c].dtype) for c in ("start_time", "end_time")}
shapes["rows"] = list(frame["tags.mlflow.runName"])
listed = mlflow.search_runs(output_format="list", filter_string="metrics.m = 1")
shapes["listed"] = [r.info.run_name for r in listed]
print(json.dumps(shapes, sort_keys=True))
