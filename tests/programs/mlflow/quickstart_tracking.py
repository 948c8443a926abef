"""Quickstart in the style of MLflow's tracking example: params, metrics over steps, an
artifact file and a text artifact. Only the import line differs from MLflow code."""

import os
import tempfile

import gitruns.mlflow as mlflow

mlflow.set_tracking_uri(os.environ.get("TRACKING_URI", "file:./mlruns"))
mlflow.set_experiment("quickstart")

with mlflow.start_run(run_name="quickstart", description="a first tracked run") as run:
    mlflow.log_param("param1", 5)
    mlflow.log_params({"optimizer": "sgd", "seed": 42})
    for step in range(3):
        mlflow.log_metric("foo", step * 1.5, step=step)
    mlflow.log_metrics({"bar": 0.25, "baz": 7})
    mlflow.log_metric("is_best", True)
    mlflow.set_tag("stage", "demo")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "test.txt")
        with open(path, "w") as handle:
            handle.write("hello world!")
        mlflow.log_artifact(path)
        mlflow.log_artifacts(tmp, artifact_path="outputs")
    mlflow.log_text("some text", "notes/readme.txt")
    mlflow.log_dict({"layers": [64, 32]}, "config/model.yaml")
    print("run_id", run.info.run_id)
    print("artifact_uri", mlflow.get_artifact_uri())

mlflow.end_run()  # a no-op: no run is active any more
print("last", mlflow.last_active_run().info.status)
print("tracking", mlflow.get_tracking_uri())
