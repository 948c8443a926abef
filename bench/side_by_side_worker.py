"""One tool's measurements for bench_side_by_side.py, run with that tool's own venv python.

    python side_by_side_worker.py TOOL STEP DIR N   ->  one JSON object on the last line

TOOL: gitruns, mlflow-file, mlflow-sqlite, wandb, aim, dvc. STEP: create (N small runs:
2 params, 3 metric points, 1 tag), log (N single-call log_metric points in one run, then
ending it), filter (the same filter over the runs `create` made, warm). Imports only the
tool being measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LRS = (0.01, 0.02, 0.05, 0.1)


def per_run(write: Callable[[int], None], count: int) -> dict[str, Any]:
    """ms a run: the median of 5 equal batches (resists a busy shared machine)."""
    write(-1)  # warm-up, not timed
    size = max(count // 5, 1)
    batches = []
    done = 0
    for _ in range(5):
        start = time.perf_counter()
        for index in range(done, done + size):
            write(index)
        batches.append((time.perf_counter() - start) / size)
        done += size
    return {"ms_per_run": statistics.median(batches) * 1000, "runs": done + 1}


def throughput(log: Callable[[int], None], end: Callable[[], None], count: int) -> dict[str, Any]:
    start = time.perf_counter()
    for i in range(count):
        log(i)
    logged = time.perf_counter() - start
    start = time.perf_counter()
    end()
    return {"points_per_s": count / logged, "points": count, "end_s": time.perf_counter() - start}


# -- gitruns -------------------------------------------------------------------------------
def gitruns_step(step: str, workdir: Path, n: int) -> dict[str, Any]:
    import gitruns

    os.chdir(workdir)
    if step == "create":

        def write(index: int) -> None:
            params = {"lr": LRS[index % 4], "batch": 32}
            with gitruns.start_run(name=f"run-{index}", params=params) as run:
                run.log_metric("loss", 0.5, step=0)
                run.log_metric("loss", 0.25, step=1)
                run.log_metric("acc", 0.5 + (index % 50) / 100, step=1)
                run.set_tag("model", "mlp")

        return per_run(write, n)
    if step == "log":
        run = gitruns.start_run(name="throughput")
        log = run.log_metric
        return throughput(lambda i: log("loss", 0.5, step=i), run.end, n)
    if step == "filter":
        expr = "metrics.acc > 0.9 and params.lr = 0.01"
        return timed_query(lambda: len(gitruns.search_runs(expr)))
    raise ValueError(step)


def timed_query(query: Callable[[], int]) -> dict[str, Any]:
    matches = query()  # warm: caches built, modules loaded
    times = []
    for _ in range(5):
        start = time.perf_counter()
        query()
        times.append(time.perf_counter() - start)
    return {"query_ms": min(times) * 1000, "matches": matches}


# -- MLflow --------------------------------------------------------------------------------
def mlflow_step(step: str, workdir: Path, n: int, store: str) -> dict[str, Any]:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{workdir}/mlflow.db" if store == "sqlite" else f"file:{workdir}/mlruns"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    if step == "create":

        def write(index: int) -> None:
            # log_batch: MLflow's fastest way to write a small run
            with mlflow.start_run(run_name=f"run-{index}") as active:
                stamp = int(time.time() * 1000)
                client.log_batch(
                    active.info.run_id,
                    metrics=[
                        Metric("loss", 0.5, stamp, 0),
                        Metric("loss", 0.25, stamp, 1),
                        Metric("acc", 0.5 + (index % 50) / 100, stamp, 1),
                    ],
                    params=[Param("lr", str(LRS[index % 4])), Param("batch", "32")],
                    tags=[RunTag("model", "mlp")],
                )

        return per_run(write, n)
    if step == "log":
        mlflow.start_run(run_name="throughput")
        return throughput(lambda i: mlflow.log_metric("loss", 0.5, step=i), mlflow.end_run, n)
    if step == "filter":
        expr = "metrics.acc > 0.9 and params.lr = '0.01'"
        return timed_query(
            lambda: len(mlflow.search_runs(filter_string=expr, search_all_experiments=True))
        )
    raise ValueError(step)


# -- W&B (offline) -------------------------------------------------------------------------
def wandb_step(step: str, workdir: Path, n: int) -> dict[str, Any]:
    import wandb

    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    os.chdir(workdir)
    if step == "create":

        def write(index: int) -> None:
            config = {"lr": LRS[index % 4], "batch": 32}
            run = wandb.init(project="bench", dir=str(workdir), config=config, tags=["mlp"])
            run.log({"loss": 0.5}, step=0)
            run.log({"loss": 0.25, "acc": 0.5 + (index % 50) / 100}, step=1)
            run.finish()

        return per_run(write, n)
    if step == "log":
        run = wandb.init(project="bench", dir=str(workdir))
        return throughput(lambda i: run.log({"loss": 0.5}, step=i), run.finish, n)
    raise ValueError(step)


# -- Aim -----------------------------------------------------------------------------------
def aim_step(step: str, workdir: Path, n: int) -> dict[str, Any]:
    from aim import Repo, Run

    repo_path = str(workdir)
    if not (workdir / ".aim").exists():
        Repo.from_path(repo_path, init=True)
    if step == "create":

        def write(index: int) -> None:
            run = Run(repo=repo_path, experiment="bench", system_tracking_interval=None)
            run["hparams"] = {"lr": LRS[index % 4], "batch": 32}
            run.track(0.5, name="loss", step=0)
            run.track(0.25, name="loss", step=1)
            run.track(0.5 + (index % 50) / 100, name="acc", step=1)
            run.add_tag("mlp")
            run.close()

        return per_run(write, n)
    if step == "log":
        run = Run(repo=repo_path, experiment="bench", system_tracking_interval=None)
        return throughput(lambda i: run.track(0.5, name="loss", step=i), run.close, n)
    if step == "filter":
        # Closed runs reach Aim's query index only once it is rebuilt (its UI does that in
        # the background); rebuilt here, untimed.
        aim = Path(sys.executable).parent / "aim"
        subprocess.run(
            [str(aim), "storage", "--repo", repo_path, "reindex", "-y"],
            check=True,
            capture_output=True,
        )
        repo = Repo.from_path(repo_path)
        # Aim's query language has no metric values on runs: the param half of the filter
        expr = "run.hparams.lr == 0.01 and run.hparams.batch == 32"
        return timed_query(lambda: sum(1 for _ in repo.query_runs(expr, report_mode=0).iter_runs()))
    raise ValueError(step)


# -- DVC (DVCLive) -------------------------------------------------------------------------
def dvc_step(step: str, workdir: Path, n: int) -> dict[str, Any]:
    from dvclive import Live

    os.chdir(workdir)
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ["DVCLIVE_TEST"] = os.environ.get("DVCLIVE_TEST", "")
    if step == "create":

        def write(index: int) -> None:
            # an experiment: DVCLive saves it as a git ref (`dvc exp save`) on exit
            with Live(save_dvc_exp=True, dvcyaml=None, report=None) as live:
                live.log_params({"lr": LRS[index % 4], "batch": 32})
                live.log_metric("loss", 0.5)
                live.next_step()
                live.log_metric("loss", 0.25)
                live.log_metric("acc", 0.5 + (index % 50) / 100)
                live.make_summary()

        return per_run(write, n)
    if step == "log":
        live = Live(save_dvc_exp=False, dvcyaml=None, report=None)

        def log(i: int) -> None:
            live.log_metric("loss", 0.5)
            live.next_step()

        return throughput(log, live.end, n)
    raise ValueError(step)


def main() -> None:
    tool, step, workdir, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    workdir.mkdir(parents=True, exist_ok=True)
    if tool == "gitruns":
        result = gitruns_step(step, workdir, n)
    elif tool.startswith("mlflow-"):
        result = mlflow_step(step, workdir, n, tool.split("-", 1)[1])
    elif tool == "wandb":
        result = wandb_step(step, workdir, n)
    elif tool == "aim":
        result = aim_step(step, workdir, n)
    elif tool == "dvc":
        result = dvc_step(step, workdir, n)
    else:
        raise SystemExit(f"unknown tool {tool}")
    sys.stdout.flush()
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
