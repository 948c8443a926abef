"""Benchmark: writing runs with gitruns against MLflow (file and sqlite stores).

Measures, on this machine and in one go:

* creating small runs through the API (ms a run);
* single-call ``log_metric`` throughput (points a second);
* finalising a run of 1,000,000 metric points (seconds, and the process's peak RSS growth
  while it finalises), both on a normal end and on crash recovery after ``kill -9``;
* ``import gitruns`` (median over fresh interpreters, minus a bare ``python -c pass``).

and the same for MLflow, installed only in the benchmark venv ``bench/.work/venv``
(``python -m venv bench/.work/venv && bench/.work/venv/bin/pip install mlflow``), never
as a gitruns dependency::

    python bench/bench_store.py            # full run (a few minutes), updates the docs
    python bench/bench_store.py --quick    # smaller counts, for a smoke test
    python bench/bench_store.py --no-mlflow --no-docs

Figures go to docs/benchmarks.md between the ``<!-- bench:store -->`` markers. Every
measurement runs in a fresh process on a fresh repository (or MLflow store) under /tmp.
Top-level imports are stdlib only: the MLflow workers run this file in the other venv.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_PYTHON = ROOT / "bench" / ".work" / "venv" / "bin" / "python"
DOCS = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:store -->", "<!-- /bench:store -->"
TARGETS = {"ms_per_run": 3.0, "points_per_s": 200_000, "finalize_s": 3.0, "import_ms": 100.0}

FULL = {
    "runs": 1000,
    "points": 1_000_000,
    "final_points": 1_000_000,
    "imports": 15,
    "mlflow_file_runs": 200,
    "mlflow_sqlite_runs": 100,
    "mlflow_file_points": 5000,
    "mlflow_sqlite_points": 500,
    "mlflow_imports": 5,
}
QUICK = {
    "runs": 200,
    "points": 200_000,
    "final_points": 200_000,
    "imports": 7,
    "mlflow_file_runs": 40,
    "mlflow_sqlite_runs": 20,
    "mlflow_file_points": 1000,
    "mlflow_sqlite_points": 200,
    "mlflow_imports": 3,
}


# -- workers (each runs in its own process; print one JSON line) ----------------------------
def small_run_gitruns(gitruns: Any, index: int) -> None:
    """The "small run" both tools write: 2 params, 3 metrics, 1 tag."""
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01, "batch": 32}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        run.log_metric("acc", 0.9, step=1)
        run.set_tag("model", "mlp")


BATCHES = 5  # runs are timed in batches; the median batch resists a busy shared machine


def timed_batches(write: Any, count: int) -> dict[str, Any]:
    """Call ``write(index)`` ``count`` times in BATCHES batches; ms a run overall and median."""
    size = max(count // BATCHES, 1)
    per_batch = []
    start = time.perf_counter()
    for first in range(0, count, size):
        batch_start = time.perf_counter()
        for index in range(first, min(first + size, count)):
            write(index)
        per_batch.append((time.perf_counter() - batch_start) * 1000 / size)
    elapsed = time.perf_counter() - start
    return {
        "ms_per_run": statistics.median(per_batch),
        "ms_per_run_overall": elapsed * 1000 / count,
        "runs": count,
    }


def worker_gitruns_create(count: int) -> dict[str, Any]:
    import gitruns

    small_run_gitruns(gitruns, -1)  # warm up: imports, schema validators, first refs
    return timed_batches(lambda index: small_run_gitruns(gitruns, index), count)


def worker_gitruns_log(count: int) -> dict[str, Any]:
    import gitruns

    with gitruns.start_run() as run:
        start = time.perf_counter()
        for step in range(count):
            run.log_metric("loss", 0.5, step=step)
        method = time.perf_counter() - start
        start = time.perf_counter()
        for step in range(count):
            gitruns.log_metric("acc", 0.5, step=step)
        module = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(count):
            run.log_metric("auto", 0.5)  # step defaults to the last + 1
        auto = time.perf_counter() - start
    return {
        "points": count,
        "method_per_s": count / method,
        "module_per_s": count / module,
        "auto_step_per_s": count / auto,
    }


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


def worker_gitruns_finalize(count: int) -> dict[str, Any]:
    import gitruns

    run = gitruns.start_run()
    for step in range(count):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run._writer.flush()  # the logging itself is measured elsewhere
    before = _rss_kib("VmRSS")
    exact = _reset_peak_rss()
    start = time.perf_counter()
    gitruns.end_run()
    elapsed = time.perf_counter() - start
    loaded = gitruns.get_run(run.id)
    assert loaded.metrics["loss"]["count"] == count
    return {
        "points": count,
        "finalize_s": elapsed,
        "rss_before_mib": before / 1024,
        "peak_growth_mib": (_rss_kib("VmHWM") - before) / 1024 if exact else None,
    }


def worker_gitruns_recover(count: int) -> dict[str, Any]:
    """A child logs ``count`` points and is killed; time this process's recovery."""
    child_code = (
        "import sys, time, gitruns\n"
        "run = gitruns.start_run()\n"
        f"for s in range({count}): run.log_metric('loss', 1.0 / (s + 1), step=s)\n"
        "run._writer.flush()\n"
        "print('ready', run.id, flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    run_id = child.stdout.readline().split()[1]
    child.send_signal(signal.SIGKILL)
    child.wait()
    import gitruns
    from gitruns.recording.repository import open_store

    before = _rss_kib("VmRSS")
    exact = _reset_peak_rss()
    start = time.perf_counter()
    open_store()
    elapsed = time.perf_counter() - start
    loaded = gitruns.get_run(run_id)
    assert loaded.status == "CRASHED" and loaded.metrics["loss"]["count"] == count
    return {
        "points": count,
        "recover_s": elapsed,
        "peak_growth_mib": (_rss_kib("VmHWM") - before) / 1024 if exact else None,
    }


def _mlflow(uri: str) -> Any:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 refuses its file store otherwise
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    return mlflow


def small_run_mlflow(mlflow: Any, index: int) -> None:
    with mlflow.start_run(run_name=f"run-{index}"):
        mlflow.log_params({"lr": 0.01, "batch": 32})
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", 0.25, step=1)
        mlflow.log_metric("acc", 0.9, step=1)
        mlflow.set_tag("model", "mlp")


def worker_mlflow_create(uri: str, count: int) -> dict[str, Any]:
    mlflow = _mlflow(uri)
    small_run_mlflow(mlflow, -1)
    return timed_batches(lambda index: small_run_mlflow(mlflow, index), count)


def worker_mlflow_log(uri: str, count: int) -> dict[str, Any]:
    mlflow = _mlflow(uri)
    with mlflow.start_run():
        mlflow.log_metric("warm", 0.0, step=0)
        start = time.perf_counter()
        for step in range(count):
            mlflow.log_metric("loss", 0.5, step=step)
        elapsed = time.perf_counter() - start
    return {"points": count, "per_s": count / elapsed}


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "gitruns_create": worker_gitruns_create,
    "gitruns_log": worker_gitruns_log,
    "gitruns_finalize": worker_gitruns_finalize,
    "gitruns_recover": worker_gitruns_recover,
    "mlflow_create": worker_mlflow_create,
    "mlflow_log": worker_mlflow_log,
}


# -- the driver -------------------------------------------------------------------------------
def bench_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITRUNS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        PYTHONWARNINGS="ignore",
    )
    return env


def fresh_repo(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir()
    for args in (
        ["init", "-q"],
        ["commit", "-q", "--allow-empty", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


def call_worker(python: Path | str, cwd: Path, env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [str(python), __file__, "--worker", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def import_ms(python: Path | str, module: str, repeats: int, env: dict[str, str]) -> float:
    """Median wall time of ``python -c "import module"`` minus that of ``python -c pass``."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([str(python), "-c", code], env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    once(f"import {module}")  # warm the file cache
    bare = statistics.median(once("pass") for _ in range(repeats))
    loaded = statistics.median(once(f"import {module}") for _ in range(repeats))
    return (loaded - bare) * 1000


def file_creation_ms(folder: Path, count: int = 300) -> dict[str, float]:
    """What creating one small file and one folder costs on the disk under ``folder``."""
    probe = Path(tempfile.mkdtemp(prefix="fs-probe-", dir=folder))
    try:
        start = time.perf_counter()
        for index in range(count):
            (probe / f"f{index}").write_bytes(b"x" * 100)
        files = (time.perf_counter() - start) * 1000 / count
        start = time.perf_counter()
        for index in range(count):
            (probe / f"d{index}").mkdir()
        folders = (time.perf_counter() - start) * 1000 / count
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return {"file_ms": files, "mkdir_ms": folders}


def measure(sizes: dict[str, int], with_mlflow: bool) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="gitruns-bench-store-"))
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    env = bench_env(home)
    results: dict[str, Any] = {"sizes": sizes}
    try:
        py = sys.executable
        step = "gitruns: creating runs"
        print(step, flush=True)
        repo = fresh_repo(base, "create")
        before = file_creation_ms(base)  # the disk's speed right around the measurement
        results["create"] = call_worker(py, repo, env, "gitruns_create", str(sizes["runs"]))
        after = file_creation_ms(base)
        fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True)
        results["create"]["fsck_ok"] = fsck.returncode == 0
        print("gitruns: log_metric", flush=True)
        repo = fresh_repo(base, "log")
        results["log"] = call_worker(py, repo, env, "gitruns_log", str(sizes["points"]))
        print("gitruns: finalise", flush=True)
        repo = fresh_repo(base, "final")
        n = str(sizes["final_points"])
        results["finalize"] = call_worker(py, repo, env, "gitruns_finalize", n)
        repo = fresh_repo(base, "recover")
        results["recover"] = call_worker(py, repo, env, "gitruns_recover", n)
        print("gitruns: import", flush=True)
        results["import_ms"] = import_ms(py, "gitruns", sizes["imports"], env)
        if with_mlflow:
            results["mlflow"] = measure_mlflow(base, env, sizes)
        results["tmpfs"] = measure_tmpfs(env, sizes, with_mlflow)
        results["fs"] = {"disk": {k: (before[k] + after[k]) / 2 for k in before}}
        if os.access("/dev/shm", os.W_OK):
            results["fs"]["tmpfs"] = file_creation_ms(Path("/dev/shm"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return results


def measure_tmpfs(env: dict[str, str], sizes: dict[str, int], with_mlflow: bool) -> Any:
    """Creating runs again with the store on tmpfs: what the code costs without the disk."""
    if not os.access("/dev/shm", os.W_OK):
        return None
    base = Path(tempfile.mkdtemp(prefix="gitruns-bench-store-", dir="/dev/shm"))
    try:
        print("tmpfs: creating runs", flush=True)
        repo = fresh_repo(base, "create")
        found = {
            "gitruns": call_worker(sys.executable, repo, env, "gitruns_create", str(sizes["runs"]))
        }
        if with_mlflow and BENCH_PYTHON.exists():
            uri = base.as_uri() + "/mlruns"
            runs = str(sizes["mlflow_file_runs"])
            found["mlflow_file"] = call_worker(BENCH_PYTHON, base, env, "mlflow_create", uri, runs)
        return found
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure_mlflow(base: Path, env: dict[str, str], sizes: dict[str, int]) -> dict[str, Any]:
    if not BENCH_PYTHON.exists():
        raise SystemExit(f"no benchmark venv at {BENCH_PYTHON}: see this file's docstring")
    py = BENCH_PYTHON
    version = subprocess.run(
        [str(py), "-c", "import mlflow; print(mlflow.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    found: dict[str, Any] = {"version": version}
    for store in ("file", "sqlite"):
        folder = base / f"mlflow-{store}"
        folder.mkdir()
        uri = folder.as_uri() + "/mlruns" if store == "file" else f"sqlite:///{folder}/mlflow.db"
        print(f"mlflow {store} store: creating runs", flush=True)
        runs = str(sizes[f"mlflow_{store}_runs"])
        found[f"{store}_create"] = call_worker(py, folder, env, "mlflow_create", uri, runs)
        print(f"mlflow {store} store: log_metric", flush=True)
        points = str(sizes[f"mlflow_{store}_points"])
        found[f"{store}_log"] = call_worker(py, folder, env, "mlflow_log", uri, points)
    print("mlflow: import", flush=True)
    found["import_ms"] = import_ms(py, "mlflow", sizes["mlflow_imports"], env)
    return found


# -- the report -------------------------------------------------------------------------------
def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "MISSED"


def report(results: dict[str, Any], command: str) -> str:
    sizes = results["sizes"]
    create, log, fin, rec = (results[k] for k in ("create", "log", "finalize", "recover"))
    ml = results.get("mlflow")
    growth = fin["peak_growth_mib"]
    rec_growth = rec["peak_growth_mib"]
    lines = [
        MARK_BEGIN,
        "## store: writing runs",
        "",
        f"Reproduce with `{command}` (MLflow in the benchmark venv `bench/.work/venv`).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (f"; MLflow {ml['version']}." if ml else "."),
        "",
        "| measurement | gitruns | target | MLflow file store | MLflow sqlite store |",
        "|---|---|---|---|---|",
    ]
    ms = create["ms_per_run"]
    row = f"| create a small run ({sizes['runs']:,} runs) | {ms:.2f} ms "
    row += f"| <= 3 ms: {verdict(ms, 3.0, False)} "
    if ml:
        f_ms, s_ms = ml["file_create"]["ms_per_run"], ml["sqlite_create"]["ms_per_run"]
        row += (
            f"| {f_ms:.1f} ms ({f_ms / ms:.1f}x slower) | {s_ms:.1f} ms ({s_ms / ms:.1f}x slower) |"
        )
    else:
        row += "| - | - |"
    lines.append(row)
    tmpfs = results.get("tmpfs")
    if tmpfs:
        g_ms = tmpfs["gitruns"]["ms_per_run"]
        row = f"| the same small run, store on tmpfs (/dev/shm) | {g_ms:.2f} ms "
        row += f"| <= 3 ms: {verdict(g_ms, 3.0, False)} "
        if "mlflow_file" in tmpfs:
            m_ms = tmpfs["mlflow_file"]["ms_per_run"]
            row += f"| {m_ms:.1f} ms ({m_ms / g_ms:.1f}x slower) | - |"
        else:
            row += "| - | - |"
        lines.append(row)
    rate = log["method_per_s"]
    row = f"| single-call `run.log_metric` ({sizes['points']:,} calls) | {rate:,.0f} points/s "
    row += f"| >= 200,000/s: {verdict(rate, 200_000, True)} "
    if ml:
        f_rate, s_rate = ml["file_log"]["per_s"], ml["sqlite_log"]["per_s"]
        row += f"| {f_rate:,.0f}/s ({rate / f_rate:,.0f}x fewer) "
        row += f"| {s_rate:,.0f}/s ({rate / s_rate:,.0f}x fewer) |"
    else:
        row += "| - | - |"
    lines.append(row)
    lines.append(
        f"| module-level `gitruns.log_metric` | {log['module_per_s']:,.0f} points/s | | | |"
    )
    lines.append(
        f"| `run.log_metric` without a step | {log['auto_step_per_s']:,.0f} points/s | | | |"
    )
    secs = fin["finalize_s"]
    peak = f", peak RSS +{growth:.1f} MiB" if growth is not None else ""
    lines.append(
        f"| finalise a run of {sizes['final_points']:,} points | {secs:.2f} s{peak} "
        f"| <= 3 s: {verdict(secs, 3.0, False)} | - | - |"
    )
    rec_peak = f", peak RSS +{rec_growth:.1f} MiB" if rec_growth is not None else ""
    lines.append(
        f"| recover the same run after `kill -9` | {rec['recover_s']:.2f} s{rec_peak} | | - | - |"
    )
    imp = results["import_ms"]
    row = f"| `import gitruns` (median of {sizes['imports']}) | {imp:.0f} ms "
    row += f"| <= 100 ms: {verdict(imp, 100.0, False)} "
    if ml:
        mi = ml["import_ms"]
        row += f"| `import mlflow`: {mi:.0f} ms ({mi / imp:.0f}x slower) | (same) |"
    else:
        row += "| - | - |"
    lines.append(row)
    lines += [
        "",
        "A small run: 2 params, 3 metric points, 1 tag, through `start_run` as a context manager;"
        f" ms a run is the median of {BATCHES} equal batches (the machine is shared).",
        "MLflow counts are capped (its single calls are slow): "
        + (
            f"{sizes['mlflow_file_runs']} / {sizes['mlflow_sqlite_runs']} runs and "
            f"{sizes['mlflow_file_points']:,} / {sizes['mlflow_sqlite_points']:,} "
            "log_metric calls (file / sqlite)."
            if ml
            else "MLflow was not measured in this run."
        ),
        "Finalising streams the staged CSV into one git blob and uses the summary kept while "
        "logging; recovery after a crash re-reads the staged CSV line by line to rebuild the "
        "summary. Peak RSS growth is VmHWM after the step minus VmRSS before it "
        "(VmHWM reset through /proc/self/clear_refs).",
        "`import gitruns` is the median of fresh interpreters minus a bare `python -c pass`.",
        "",
        why_small_runs_cost(results),
        "",
        f"`git fsck --strict` after the {sizes['runs']:,} runs: "
        + ("clean." if create["fsck_ok"] else "FAILED."),
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


def why_small_runs_cost(results: dict[str, Any]) -> str:
    """The measured cost of creating files, which bounds how fast a small run can be."""
    fs = results["fs"]
    disk = fs["disk"]
    files_ms = 15 * disk["file_ms"] + 1 * disk["mkdir_ms"]
    text = (
        "Where a small run's time goes: it creates about 16 files and folders (a staging"
        " folder with 6 files, removed at the end; about 8 loose git objects and a ref lock"
        " file)."
        f" On this machine's disk creating a small file took {disk['file_ms']:.2f} ms and a"
        f" folder {disk['mkdir_ms']:.2f} ms, just before and after that measurement"
    )
    if "tmpfs" in fs:
        tmp = fs["tmpfs"]
        text += f" (on tmpfs {tmp['file_ms']:.3f} ms and {tmp['mkdir_ms']:.3f} ms)"
    text += (
        f": about {files_ms:.1f} ms a run of file creation alone. The tmpfs row is the"
        " code's own cost (libgit2 hashing and compressing objects, YAML, JSON Schema"
        " validation, the journal). On this shared 2-core machine the disk figures vary"
        " about 3x between runs of this benchmark, with the load other processes put on it."
    )
    return text


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        _old, tail = rest.split(MARK_END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke test)")
    parser.add_argument("--no-mlflow", action="store_true", help="measure gitruns only")
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, *rest = args.worker
        function = WORKERS[name]
        values: list[Any] = [int(v) if v.isdigit() else v for v in rest]
        print(json.dumps(function(*values)))
        return
    sizes = QUICK if args.quick else FULL
    results = measure(sizes, with_mlflow=not args.no_mlflow)
    command = "python bench/bench_store.py" + (" --quick" if args.quick else "")
    section = report(results, command)
    print(json.dumps(results, indent=2))
    print(section)
    if not args.no_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
