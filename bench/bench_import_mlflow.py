"""Benchmark: ``gitruns import mlflow`` of a store of 1,000 runs x 100 metric points.

    python bench/bench_import_mlflow.py           # writes the `import-mlflow` section
    python bench/bench_import_mlflow.py --quick   # 100 runs, no file written

Needs MLflow in the running Python (``pip install -e ".[mlflow]"``) to write the stores.
Each store (MLflow's file store and its sqlite store) is written by MLflow itself: per run
``create_run``, one ``log_batch`` of 5 params and 100 points of ``loss`` (steps 0-99), and
``set_terminated``. Then, each in a fresh process: ``gitruns import mlflow`` into a new
repository (the CLI, Python start-up included), the same import again (nothing new: every
run is skipped), MLflow's ``search_runs`` of the store (a DataFrame of the latest metrics,
``import mlflow`` excluded), and ``search_runs`` plus ``get_metric_history`` of every run,
which is what reading every point through MLflow costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_record import make_repo, write_section  # noqa: E402

WRITER = """
import logging, sys, time
logging.disable(logging.WARNING)
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
uri, runs, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = MlflowClient(uri)
experiment = client.create_experiment("bench")
start = time.perf_counter()
for number in range(runs):
    run = client.create_run(experiment, run_name=f"run-{number}")
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (step + 1), now + step, step) for step in range(points)]
    params = [Param(f"p{i}", str(number * i)) for i in range(5)]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.set_terminated(run.info.run_id)
print(time.perf_counter() - start)
"""

READER = """
import logging, sys, time
logging.disable(logging.WARNING)
import mlflow
from mlflow.tracking import MlflowClient
uri, histories = sys.argv[1], sys.argv[2] == "1"
mlflow.set_tracking_uri(uri)
start = time.perf_counter()
experiment = mlflow.get_experiment_by_name("bench").experiment_id
frame = mlflow.search_runs([experiment], max_results=100000)
if histories:
    client = MlflowClient(uri)
    points = sum(len(client.get_metric_history(r, "loss")) for r in frame["run_id"])
print(time.perf_counter() - start, len(frame))
"""


def run_python(code: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet"}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    return result.stdout.strip()


def timed_import(repo: Path, location: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "gitruns", "import", "mlflow", location],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    return elapsed, result.stdout.strip().rsplit(": ", 1)[-1]


def measure(work: Path, kind: str, runs: int, points: int) -> dict[str, str]:
    folder = work / kind
    folder.mkdir()
    location = (folder / "mlruns").as_uri() if kind == "file" else f"sqlite:///{folder}/mlflow.db"
    write_s = float(run_python(WRITER, location, str(runs), str(points), cwd=folder))
    repo = make_repo(work, f"repo-{kind}")
    source = str(folder / "mlruns") if kind == "file" else location
    first, first_counts = timed_import(repo, source)
    again, again_counts = timed_import(repo, source)
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True)
    search_s = float(run_python(READER, location, "0", cwd=folder).split()[0])
    history_s = float(run_python(READER, location, "1", cwd=folder).split()[0])
    return {
        "kind": "MLflow file store" if kind == "file" else "MLflow sqlite store",
        "write": f"{write_s:.1f} s",
        "import": f"{first:.1f} s ({first / runs * 1000:.1f} ms a run)",
        "again": f"{again:.2f} s",
        "search": f"{search_s:.2f} s ({first / search_s:.1f}x)",
        "history": f"{history_s:.2f} s ({first / history_s:.1f}x)",
        "counts": f"{first_counts}; again: {again_counts}",
        "fsck": "clean" if fsck.returncode == 0 else fsck.stderr.decode()[-200:],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, points = (100, 100) if args.quick else (1000, 100)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        rows = [measure(Path(tmp), kind, runs, points) for kind in ("file", "sqlite")]
    header = (
        "| store | MLflow writes it | `gitruns import mlflow` | import again (no change) |"
        " MLflow `search_runs` | `search_runs` + every metric history |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['kind']} | {row['write']} | {row['import']} | {row['again']} |"
            f" {row['search']} | {row['history']} |"
        )
    import mlflow  # only for its version, after the measurements

    body = "\n".join(
        [
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python"
            f" {platform.python_version()}; MLflow {mlflow.__version__};"
            f" measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
            f"A store of {runs:,} runs x {points} metric points (5 params each), written by"
            " MLflow itself; every time is one fresh process (the gitruns CLI with its Python"
            " start-up; MLflow's without `import mlflow`).",
            "",
            *lines,
            "",
            *(f"{r['kind']}: {r['counts']}; `git fsck --strict`: {r['fsck']}." for r in rows),
            "",
            "In brackets: the first import's time divided by MLflow's (above 1: the import"
            " takes longer). The machine is shared with other jobs: times vary by about 2x.",
            "",
            "The import reads every point of every run (MLflow's `search_runs` reads only the"
            " latest value of each metric), writes each run as one commit with its metric"
            " CSVs, and validates each run as `record` does. Importing again reads each"
            " MLflow run's info, params and tags and the run imported from it, to tell"
            " whether it changed, and writes nothing.",
        ]
    )
    if args.quick:
        print(body)
    else:
        write_section(
            "import-mlflow",
            "python bench/bench_import_mlflow.py",
            body,
            title="Importing an MLflow store",
        )
        print(body)


if __name__ == "__main__":
    main()
