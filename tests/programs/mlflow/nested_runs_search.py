"""The start_run pattern of MLflow's docs: a parent run with nested child runs, then
search_runs over them. Only the import line differs from MLflow code."""

import gitruns.mlflow as mlflow

mlflow.set_experiment("nested")
with mlflow.start_run(run_name="PARENT_RUN") as parent_run:
    mlflow.log_param("parent", "yes")
    with mlflow.start_run(run_name="CHILD_RUN", nested=True) as child_run:
        mlflow.log_param("child", "yes")
        mlflow.log_metric("score", 0.5, step=-1)  # MLflow takes negative steps
        mlflow.log_metric("score", 0.75, step=2.0)

print("parent run:")
print(f"run_id: {parent_run.info.run_id}")
print(f"params: {parent_run.data.params}")
print(f"status: {parent_run.info.status}")
print("child run:")
print(f"run_id: {child_run.info.run_id}")
print(f"params: {child_run.data.params}")
print(f"status: {child_run.info.status}")

frame = mlflow.search_runs(filter_string="params.child = 'yes'")
print("columns:", ",".join(frame.columns))
print("found:", ",".join(frame["tags.mlflow.runName"]))
print("parent of child:", frame["tags.mlflow.parentRunId"].iloc[0])
runs = mlflow.search_runs(output_format="list", order_by=["start_time ASC"])
print("listed:", ",".join(r.info.run_name for r in runs))
