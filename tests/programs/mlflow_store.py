"""Make an MLflow store with real MLflow, then dump what MLflow itself reads back from it.

Usage: python mlflow_store.py TRACKING_URI ARTIFACT_ROOT OUT.json

Two experiments: "vision" with a parent run (params, a note, a tag, metrics over steps with
given timestamps, a metric with a '/' key, an artifact in a folder) and two nested child
runs; "nlp" with a failed run, a run with a NaN point, a run deleted in MLflow and a run left
RUNNING. OUT.json holds every run as MlflowClient reports it: info, params, tags and the
full history of each metric.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

uri, artifact_root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
vision = client.create_experiment("vision", artifact_location=(artifact_root / "v").as_uri())
nlp = client.create_experiment("nlp", artifact_location=(artifact_root / "n").as_uri())

weights = artifact_root.parent / "model.txt"
weights.write_text("weights v1\n")
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms

with mlflow.start_run(experiment_id=vision, run_name="sweep", description="lr sweep") as parent:
    mlflow.log_params({"lr": 0.01, "batch_size": 32, "optimizer": "adam"})
    mlflow.set_tag("team", "vision")
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=T0 + 1000 * step)
        mlflow.log_metric("val/acc", 0.5 + step / 10, step=step * 10, timestamp=T0 + 1000 * step)
    mlflow.log_artifact(str(weights), artifact_path="models")
    for trial in (1, 2):
        with mlflow.start_run(experiment_id=vision, run_name=f"trial-{trial}", nested=True):
            mlflow.log_param("trial", trial)
            mlflow.log_metric("loss", 0.1 * trial, step=0)
            mlflow.log_metric("loss", 0.05 * trial, step=1)

try:
    with mlflow.start_run(experiment_id=nlp, run_name="diverged"):
        mlflow.log_param("lr", 10)
        mlflow.log_metric("loss", 5.0, step=0)
        raise RuntimeError("loss diverged")
except RuntimeError:
    pass

with mlflow.start_run(experiment_id=nlp, run_name="nan-run"):
    mlflow.log_metric("score", math.nan, step=0)
    mlflow.log_metric("score", 0.25, step=1)

with mlflow.start_run(experiment_id=nlp, run_name="thrown-away") as deleted:
    mlflow.log_param("x", 1)
client.delete_run(deleted.info.run_id)

still_running = client.create_run(nlp, run_name="in-flight")  # never ended: RUNNING

dump = {}
for experiment_id in (vision, nlp):
    experiment = client.get_experiment(experiment_id)
    found = client.search_runs(
        [experiment_id], run_view_type=mlflow.entities.ViewType.ALL, max_results=1000
    )
    for run in found:
        info, data = run.info, run.data
        dump[info.run_id] = {
            "experiment": experiment.name,
            "name": info.run_name,
            "status": info.status,
            "lifecycle_stage": info.lifecycle_stage,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "user": info.user_id,
            "params": data.params,
            "tags": data.tags,
            "metrics": {
                key: [
                    [m.step, m.timestamp, None if math.isnan(m.value) else m.value]
                    for m in client.get_metric_history(info.run_id, key)
                ]
                for key in data.metrics
            },
            "artifacts": sorted(
                f.path
                for top in client.list_artifacts(info.run_id)
                for f in ([top] if not top.is_dir else client.list_artifacts(info.run_id, top.path))
            ),
        }
out.write_text(json.dumps(dump, indent=1, sort_keys=True))
