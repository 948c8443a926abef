"""Hyperparameter tuning with parent and child runs, in the style of MLflow's notebook on
parent/child runs: each trial is a child of the tuning run, the best is found with
search_runs. Only the import line differs from MLflow code."""

import random

import gitruns.mlflow as mlflow
from gitruns.mlflow.tracking import MlflowClient

experiment_id = mlflow.create_experiment("tuning")
experiment = mlflow.get_experiment(experiment_id)
print("experiment:", experiment.name, experiment.experiment_id == experiment_id)
mlflow.set_experiment(experiment_name="tuning")

random.seed(7)
with mlflow.start_run(run_name="sweep", description="learning-rate sweep") as parent:
    for trial, lr in enumerate([0.1, 0.01, 0.001]):
        with mlflow.start_run(run_name=f"trial-{trial}", nested=True):
            mlflow.log_params({"lr": lr, "trial": trial})
            loss = abs(lr - 0.01) + random.random() / 100
            for epoch in range(3):
                mlflow.log_metric("loss", loss * (3 - epoch), step=epoch)
    mlflow.log_param("trials", 3)

children = mlflow.search_runs(
    experiment_ids=[experiment_id],
    filter_string="params.lr > 0",
    order_by=["metrics.loss ASC"],
)
best = children.iloc[0]
print("children:", len(children))
print("best:", best["tags.mlflow.runName"], best["params.lr"])
client = MlflowClient()
history = client.get_metric_history(best["run_id"], "loss")
print("history:", [(m.step, round(m.value, 6)) for m in history])
client.set_tag(parent.info.run_id, "best_trial", best["tags.mlflow.runName"])
print("tagged:", mlflow.get_run(parent.info.run_id).data.tags["best_trial"])
made = client.create_run(experiment_id, run_name="client-run")
client.log_metric(made.info.run_id, "acc", 0.9, step=1)
client.log_param(made.info.run_id, "source", "client")
client.set_terminated(made.info.run_id)
print("client run:", client.get_run(made.info.run_id).info.status)
names = [e.name for e in mlflow.search_experiments()]
print("experiments:", ",".join(names))
