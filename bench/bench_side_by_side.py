"""Benchmark: gitruns beside MLflow (file and sqlite stores), W&B (offline), Aim and DVC
(DVCLive), measured in the same run on this machine, as ratios.

    python bench/bench_side_by_side.py          # writes docs/benchmarks.md, `side-by-side`
    python bench/bench_side_by_side.py --quick  # fewer runs and points, nothing written

Each tool lives in its own venv under bench/.work/ (never a gitruns dependency); make them with
    for t in mlflow==3.17.* wandb==0.31.* aim==3.29.* "dvc==3.67.* dvclive"; do
      v=bench/.work/venv-${t%%[=]*}; python3 -m venv $v && $v/bin/pip install $t; done
A tool whose venv is missing or broken is reported as such in the table. The work itself is
done by bench/side_by_side_worker.py, run by each venv's python.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, bench_env, compile_gitruns, machine_line, make_repo, write_section

WORKER = Path(__file__).resolve().parent / "side_by_side_worker.py"
TOOLS = ["gitruns", "mlflow-file", "mlflow-sqlite", "wandb", "aim", "dvc"]
TITLES = {
    "gitruns": "gitruns",
    "mlflow-file": "MLflow file store",
    "mlflow-sqlite": "MLflow sqlite",
    "wandb": "W&B offline",
    "aim": "Aim",
    "dvc": "DVC (DVCLive)",
}
VENV = {
    "mlflow-file": "mlflow",
    "mlflow-sqlite": "mlflow",
    "wandb": "wandb",
    "aim": "aim",
    "dvc": "dvc",
}
IMPORT = {
    "gitruns": "import gitruns",
    "mlflow-file": "import mlflow",
    "mlflow-sqlite": "import mlflow",
    "wandb": "import wandb",
    "aim": "import aim",
    "dvc": "import dvclive",
}
PACKAGES = {
    "gitruns": [],
    "mlflow-file": ["mlflow"],
    "mlflow-sqlite": ["mlflow"],
    "wandb": ["wandb"],
    "aim": ["aim"],
    "dvc": ["dvc", "dvclive"],
}
# Small runs each tool writes (the same runs are then filtered), and log_metric calls in one
# run: capped where a tool is slow (W&B starts a service per run, DVC saves a git experiment).
CREATE = {
    "gitruns": 300,
    "mlflow-file": 300,
    "mlflow-sqlite": 300,
    "wandb": 10,
    "aim": 100,
    "dvc": 5,
}
LOG = {
    "gitruns": 1_000_000,
    "mlflow-file": 2000,
    "mlflow-sqlite": 500,
    "wandb": 20_000,
    "aim": 50_000,
    "dvc": 2000,
}
FILTERS = {"gitruns", "mlflow-file", "mlflow-sqlite", "aim"}


def python_of(tool: str) -> Path | None:
    if tool == "gitruns":
        return Path(sys.executable)
    path = WORK / f"venv-{VENV[tool]}" / "bin" / "python"
    return path if path.exists() else None


def importable(python: Path, tool: str) -> bool:
    done = subprocess.run([str(python), "-c", IMPORT[tool]], capture_output=True, env=bench_env())
    return done.returncode == 0


def version_of(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "?"


def import_ms(python: Path, tool: str, rounds: int) -> float:
    """``python -X importtime``: the top-level module's cumulative import time, the fastest
    of ``rounds`` fresh interpreters (not start-up's noise on a shared machine)."""
    module = IMPORT[tool].split()[-1]
    times = []
    for _ in range(rounds + 1):  # the first fills the page cache
        done = subprocess.run(
            [str(python), "-X", "importtime", "-c", IMPORT[tool]],
            check=True,
            capture_output=True,
            text=True,
            env=bench_env(),
        )
        for line in done.stderr.splitlines():
            parts = [x.strip() for x in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]) / 1000)
    return min(times[1:] or times)


def worker(python: Path, tool: str, step: str, workdir: Path, n: int) -> dict[str, Any]:
    env = bench_env()
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", DVC_NO_ANALYTICS="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"  # 3.17 refuses the file store without it
    done = subprocess.run(
        [str(python), str(WORKER), tool, step, str(workdir), str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        return {"error": last[:100]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def disk_bytes(path: Path) -> int:
    done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def measure_tool(tool: str, scratch: Path, quick: bool) -> dict[str, Any]:
    python = python_of(tool)
    if python is None or not importable(python, tool):
        return {"missing": True}
    result: dict[str, Any] = {"versions": {p: version_of(python, p) for p in PACKAGES[tool]}}
    result["measured"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    result["import_ms"] = import_ms(python, tool, 3 if quick else 7)
    workdir = scratch / tool
    if tool in ("gitruns", "dvc"):
        make_repo(workdir)
        if tool == "dvc":
            subprocess.run(
                [str(python.parent / "dvc"), "init", "-q"],
                cwd=workdir,
                check=True,
                env={**bench_env(), "DVC_NO_ANALYTICS": "1"},
            )
            subprocess.run(["git", "commit", "-qam", "dvc init"], cwd=workdir, check=True)
    else:
        workdir.mkdir(parents=True)
    before = disk_bytes(workdir)
    count = max(CREATE[tool] // (10 if quick else 1), 3)
    created = worker(python, tool, "create", workdir, count)
    result["create"] = created
    if "runs" in created:
        result["disk_per_run"] = (disk_bytes(workdir) - before) / created["runs"]
    if tool in FILTERS:
        result["filter"] = worker(python, tool, "filter", workdir, 0)
    points = LOG[tool] // (20 if quick else 1)
    result["log"] = worker(
        python,
        tool,
        "log",
        scratch / f"{tool}-log" if tool not in ("gitruns", "dvc") else workdir,
        points,
    )
    return result


def cell(value: float | None, base: float | None, unit: str, higher_is_better: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    if base is None or base == 0 or value == 0:
        return text
    ratio = (base / value) if higher_is_better else (value / base)
    return f"{text} ({ratio:,.1f}x)" if ratio < 100 else f"{text} ({ratio:,.0f}x)"


def render(results: dict[str, dict[str, Any]], quick: bool) -> str:
    shown = [t for t in TOOLS if t in results]

    def get(tool: str, *path: str) -> Any:
        node: Any = results[tool]
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    cols = []
    for tool in shown:
        if results[tool].get("missing"):
            cols.append(f"{TITLES[tool]} (not installed: {VENV.get(tool)} venv missing or broken)")
        else:
            versions = ", ".join(f"{p} {v}" for p, v in results[tool]["versions"].items())
            cols.append(f"{TITLES[tool]} ({versions})" if versions else TITLES[tool])
    lines = [
        "## Side by side: gitruns, MLflow, W&B, Aim, DVC",
        "",
        "Reproduce: `python bench/bench_side_by_side.py` (each tool in its own venv under"
        " bench/.work/, see the script's docstring).",
        "",
        machine_line(),
        "",
        row("measurement", cols),
        "|---" * (len(shown) + 1) + "|",
    ]

    def line(
        label: str,
        path: tuple[str, ...],
        unit: str,
        scale: float = 1.0,
        better_high: bool = False,
        note: dict[str, str] | None = None,
    ) -> None:
        ref = get("gitruns", *path)
        ref = ref * scale if ref is not None else None
        values = []
        for tool in shown:
            if results[tool].get("missing"):
                values.append("not installed")
                continue
            if note and tool in note:
                values.append(note[tool])
                continue
            value = get(tool, *path)
            error = get(tool, path[0], "error")
            if value is None:
                values.append(f"failed: {error}" if error else "-")
                continue
            values.append(
                cell(value * scale, None if tool == "gitruns" else ref, unit, better_high)
            )
        lines.append(row(label, values))

    line("`import` (`python -X importtime`, fresh interpreter)", ("import_ms",), "ms")
    line("create a small run (2 params, 3 points, 1 tag)", ("create", "ms_per_run"), "ms")
    line("single-call `log_metric`", ("log", "points_per_s"), "points/s", better_high=True)
    finalise_notes = {}
    for tool in shown:
        points = get(tool, "log", "points")
        if points is not None and points < 1_000_000:
            needed = 1_000_000 / get(tool, "log", "points_per_s")
            finalise_notes[tool] = (
                f"not measured (logged {points:,} points; 1M would take {needed:,.0f} s)"
            )
    line("end a run of 1,000,000 points (finalise)", ("log", "end_s"), "s", note=finalise_notes)
    no_filter = {
        "wandb": "no query offline (W&B filters on its server)",
        "dvc": "no filter language (`dvc exp show` lists all)",
    }
    line(
        "filter the runs above, warm (`metrics.acc > 0.9 and params.lr = 0.01`)",
        ("filter", "query_ms"),
        "ms",
        note=no_filter,
    )
    line("disk per small run", ("disk_per_run",), "KB", scale=1 / 1000)
    matches = ", ".join(
        f"{TITLES[t]} {get(t, 'filter', 'matches')}"
        for t in shown
        if get(t, "filter", "matches") is not None
    )
    counts = ", ".join(
        f"{TITLES[t]} {get(t, 'create', 'runs')}" for t in shown if get(t, "create", "runs")
    )
    logged = ", ".join(
        f"{TITLES[t]} {get(t, 'log', 'points'):,}" for t in shown if get(t, "log", "points")
    )
    lines += [
        "",
        "Ratios in brackets are the tool's figure over gitruns' (for points/s, gitruns' over the"
        " tool's): above 1x, gitruns is faster or smaller.",
        f"Small runs written: {counts} (ms a run is the median of 5 equal batches; the filter"
        " runs over these runs, so its row compares equal run counts only where the counts are"
        " equal). MLflow writes each run with one `log_batch` call (its fastest way); W&B runs"
        " `wandb.init`/`finish` in offline mode; Aim `Run(...)`/`close()` without system"
        " tracking; DVC a DVCLive experiment saved as a git ref (`save_dvc_exp=True`).",
        f"Filter matches: {matches}."
        f" `log_metric` points logged in one run: {logged}. Aim's query language cannot test"
        " metric values on runs: its filter is the params half (`run.hparams.lr == 0.01 and"
        " run.hparams.batch == 32`), run after rebuilding Aim's index (`aim storage reindex`,"
        " untimed: closed runs are not queryable before). Disk per run: the store's growth"
        " (`du -sb`: the repository for gitruns and DVC, mlruns/ or the sqlite file, wandb/,"
        " .aim/) over the runs written, without `git gc`.",
    ]
    stamps = {get(t, "measured") for t in shown if get(t, "measured")}
    if len(stamps) > 1:  # some tools re-measured later (--tools)
        when = ", ".join(f"{TITLES[t]} {get(t, 'measured')}" for t in shown if get(t, "measured"))
        lines.append(f"Measured (UTC): {when}.")
    if quick:
        lines.append("(--quick: tenth-size counts; not for the record)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--save", type=Path, default=WORK / "side-by-side.json")
    args = parser.parse_args()
    compile_gitruns()
    results: dict[str, dict[str, Any]] = {}
    if args.save.exists() and not args.quick:
        results = json.loads(args.save.read_text())  # re-run one tool, keep the others
    scratch = Path(tempfile.mkdtemp(prefix="gitruns-sbs-"))
    try:
        tools = args.tools.split(",")
        if "gitruns" not in results and "gitruns" not in tools:
            tools.insert(0, "gitruns")  # every ratio is against it
        for tool in tools:
            print(f"{tool} ...", file=sys.stderr, flush=True)
            results[tool] = measure_tool(tool, scratch, args.quick)
            print(json.dumps(results[tool]), file=sys.stderr, flush=True)
            if not args.quick:
                args.save.parent.mkdir(parents=True, exist_ok=True)
                args.save.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = render(results, args.quick)
    print(text)
    if not args.quick:
        write_section("side-by-side", text)


if __name__ == "__main__":
    main()
