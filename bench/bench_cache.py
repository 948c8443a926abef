"""Benchmark: the query cache at scale (cold rebuild, search served from the cache).

Uses the repositories of ``bench/gen_runs.py`` (made once under bench/.work/) and MLflow's
sqlite store of the same runs (``bench_query.mlflow_store``, in bench/.work/venv):

    python bench/bench_cache.py --runs 1000 10000 100000   # measure, update docs
    python bench/bench_cache.py --runs 1000 --no-docs       # a quick look
    python bench/bench_cache.py --before 924b9b5            # and that commit's rebuild
    python bench/bench_cache.py --runs 10000 --rebuild-only --before 924b9b5 --no-mlflow

Each figure is a whole fresh process (median of ``--repeat``), with its CPU time (user +
system, workers included) and peak RSS (the largest process):

- cold rebuild: ``gitruns ls --filter ... --format csv -c id`` with the cache file deleted;
- in-process search: ``gitruns.search_runs(filter)`` (full ``Run`` objects, warm cache)
  against ``mlflow.search_runs(filter_string=...)`` on sqlite, each timed inside its
  process, both returning the same ~2% of the runs;
- ``gitruns ls --format json`` against ``--format csv`` (every run, warm cache).

``figures(n)`` returns the measurements of one size as a dict: other benchmarks (the
scaling table of docs/benchmarks.md) call it. Figures go to docs/benchmarks.md between
<!-- bench:cache --> markers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_env, compile_gitruns, gitruns_at, write_section
from bench_query import FILTER, MLFLOW_FILTER, bench_python, mlflow_store
from gen_runs import generate

SEARCH = (
    "import json, time, gitruns; gitruns.search_runs({filter!r});"
    "t, c = time.perf_counter(), time.process_time(); runs = gitruns.search_runs({filter!r});"
    "print(json.dumps({{'matches': len(runs), 'search_s': time.perf_counter() - t,"
    " 'search_cpu_s': time.process_time() - c}}))"
)
MLFLOW_SEARCH = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import mlflow
uri, flt = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
exp = mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name("bench").experiment_id
def search():
    return mlflow.search_runs([exp], filter_string=flt, max_results=50000, output_format="list")
search()
t, c = time.perf_counter(), time.process_time()
runs = search()
print(json.dumps({"matches": len(runs), "search_s": time.perf_counter() - t,
                  "search_cpu_s": time.process_time() - c}))
"""
_PROBE = """
import json, resource, subprocess, sys, threading, time
import psutil
t = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
done, peak = threading.Event(), {"rss": 0, "pss": 0}
workers = {}  # pid -> [first seen, last seen, ns on a CPU, ns waiting for one]
def schedstat(pid):
    # Linux: time on a CPU and time runnable but waiting for one; the rest of a worker's
    # life it slept (waiting for work, a lock, the disk): what the load does not change.
    try:
        with open(f"/proc/{pid}/schedstat") as file:
            run, wait, _ = (int(x) for x in file.read().split())
        return run, wait
    except (OSError, ValueError):
        return None
def sample():
    # The whole process tree (workers included) every 20 ms: the sum of RSS counts pages
    # that forked workers share with their parent once per process (an upper bound); the
    # sum of PSS shares them out (what the tree really holds).
    root = psutil.Process(child.pid)
    while not done.is_set():
        rss = pss = 0
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        now = time.perf_counter()
        for process in processes:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            rss, pss = rss + info.rss, pss + info.pss
            stat = schedstat(process.pid) if process.pid != child.pid else None
            if stat is not None:
                workers.setdefault(process.pid, [now, now, 0, 0])[1:] = [now, *stat]
        peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
        done.wait(0.02)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
out, err = child.communicate()
wall = time.perf_counter() - t
done.set()
sampler.join()
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": child.returncode, "wall_s": wall, "cpu_s": u.ru_utime + u.ru_stime,
    "rss_mib": u.ru_maxrss / 1024, "tree_rss_mib": peak["rss"] / 2**20,
    "tree_pss_mib": peak["pss"] / 2**20, "stdout": out,
    "workers_asleep_s": sum(b - a - (run + wait) / 1e9 for a, b, run, wait in workers.values()),
    "stderr": err[-3000:]}))
"""


def run_process(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time, CPU time (its workers included), peak RSS in MiB of its largest process
    (``RUSAGE_CHILDREN`` keeps the largest child ever waited for) and the peak of the sum
    over its process tree (sampled) of ``command`` run once, fresh, under a small probe
    process of its own."""
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *command], cwd=cwd, capture_output=True, text=True, env=env
    )
    result: dict[str, Any] = json.loads(probe.stdout)
    if result["rc"]:
        raise RuntimeError(f"{command} failed:\n{result['stderr']}")
    return result


def _drop_cache(repo: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{repo}/.git/gitruns/cache.sqlite{suffix}").unlink(missing_ok=True)


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def figures(
    n: int,
    repeat: int = 3,
    mlflow: bool = True,
    rebuild_only: bool = False,
    warm_only: bool = False,
    before: Path | None = None,
) -> dict[str, Any]:
    """Measure one size: the cold rebuild (interleaved with MLflow's whole search process,
    its cold start: it has no cache to build; skipped with ``warm_only``; and with the
    gitruns of ``before``, see ``_common.gitruns_at``), then (unless ``rebuild_only``) search and
    ``ls --format json``/csv."""
    repo = generate(n)
    gitruns = [sys.executable, "-m", "gitruns"]
    ls_cold = [*gitruns, "ls", "--filter", FILTER, "--format", "csv", "-c", "id"]
    found: dict[str, Any] = {"runs": n, "cpus": os.cpu_count()}
    mlflow_command: list[str] = []
    # Bytecode written and used by every timed process (a user's install has it): with
    # PYTHONDONTWRITEBYTECODE set, every start compiled each module changed since its
    # .pyc (a merge, a checkout), and the --before copy never had any (30 ms for cache.py).
    base = bench_env()
    compile_gitruns()
    if before is not None:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(before / "gitruns")],
            check=True,
            capture_output=True,
            env=base,
        )
    env = {**base, "GIT_PYTHON_REFRESH": "quiet"}
    if mlflow and not rebuild_only:
        uri = mlflow_store("sqlite", n)
        mlflow_command = [str(bench_python()), "-c", MLFLOW_SEARCH, uri, MLFLOW_FILTER]
    cold, mlflow_runs, loads, older = [], [], [os.getloadavg()[0]], []
    for _ in range(0 if warm_only else repeat):
        if before is not None:
            _drop_cache(repo)
            path = os.pathsep.join([str(before), os.environ.get("PYTHONPATH", "")])
            older.append(run_process(ls_cold, repo, {**base, "PYTHONPATH": path}))
            loads.append(os.getloadavg()[0])
        _drop_cache(repo)
        cold.append(run_process(ls_cold, repo, base))
        loads.append(os.getloadavg()[0])
        if mlflow_command:
            mlflow_runs.append(run_process(mlflow_command, repo.parent, env))
            loads.append(os.getloadavg()[0])
    if not cold:
        run_process(ls_cold, repo, base)  # the cache as a warm query finds it
    else:
        found["rebuild_s"] = _median(cold, "wall_s")
        found["rebuild_cpu_s"] = _median(cold, "cpu_s")
        found["rebuild_rss_mib"] = max(sample["rss_mib"] for sample in cold)
        found["rebuild_tree_rss_mib"] = max(sample["tree_rss_mib"] for sample in cold)
        found["rebuild_tree_pss_mib"] = max(sample["tree_pss_mib"] for sample in cold)
    if older:
        found["before"] = before.name if before is not None else None
        found["before_rebuild_s"] = _median(older, "wall_s")
        found["before_rebuild_cpu_s"] = _median(older, "cpu_s")
        found["before_rebuild_tree_pss_mib"] = max(sample["tree_pss_mib"] for sample in older)
        found["rebuild_cpu_samples"] = [round(sample["cpu_s"], 2) for sample in cold]
        found["before_rebuild_cpu_samples"] = [round(sample["cpu_s"], 2) for sample in older]
        found["rebuild_asleep_s"] = _median(cold, "workers_asleep_s")
        found["before_rebuild_asleep_s"] = _median(older, "workers_asleep_s")
    found["rebuild_load"] = (min(loads), max(loads))
    if mlflow_runs:
        found["mlflow_process_s"] = _median(mlflow_runs, "wall_s")
        found["mlflow_process_cpu_s"] = _median(mlflow_runs, "cpu_s")
    found["load_average"] = os.getloadavg()[0]
    if rebuild_only:
        return found
    search = [sys.executable, "-c", SEARCH.format(filter=FILTER)]
    warm = [json.loads(run_process(search, repo, base)["stdout"]) for _ in range(repeat)]
    found["search_s"] = _median(warm, "search_s")
    found["search_cpu_s"] = _median(warm, "search_cpu_s")
    found["search_matches"] = warm[0]["matches"]
    for fmt in ("csv", "json"):
        listing = [
            run_process([*gitruns, "ls", "--format", fmt], repo, base) for _ in range(repeat)
        ]
        found[f"ls_{fmt}_s"] = _median(listing, "wall_s")
        found[f"ls_{fmt}_cpu_s"] = _median(listing, "cpu_s")
    if mlflow_runs:
        runs = [json.loads(sample["stdout"]) for sample in mlflow_runs]
        found["mlflow_search_s"] = _median(runs, "search_s")
        found["mlflow_search_cpu_s"] = _median(runs, "search_cpu_s")
        found["mlflow_matches"] = runs[0]["matches"]
    found["load_average"] = os.getloadavg()[0]
    return found


def _cell(f: dict[str, Any], key: str, scale: float = 1.0, digits: int = 2) -> str:
    return f"{f[key] * scale:.{digits}f}" if key in f else "-"


def report(rows: list[dict[str, Any]]) -> str:
    sizes = " ".join(str(r["runs"]) for r in rows)
    lines = [
        "## The query cache at scale: cold rebuild, search from the cache",
        "",
        f"Reproduce: `python bench/bench_cache.py --runs {sizes}` (runs made once by "
        "`bench/gen_runs.py`: one real run as the template, the rest streamed into `git "
        "fast-import`, with the params, metrics and tags of `bench_query.py`; MLflow's sqlite "
        "store of the same runs in bench/.work/venv). "
        f"Machine: {rows[0]['cpus']} CPUs, shared with other work (the 1-minute load average "
        "while each size was measured is in the table; above 2, wall times are several times "
        "an idle machine's and CPU time is the steadier figure). Medians of fresh processes.",
        "",
        "### Cold start",
        "",
        "| runs | cold rebuild: wall s (target) | CPU s | peak RSS, largest process MiB "
        "| peak of the process tree: sum of RSS / sum of PSS MiB (target) "
        "| MLflow sqlite, whole search process: wall s | CPU s | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    targets = {10_000: ("< 2", "-"), 100_000: ("< 20", "< 200")}
    for f in rows:
        wall_target, rss_target = targets.get(f["runs"], ("-", "-"))
        low, high = f.get("rebuild_load", (f["load_average"], f["load_average"]))
        lines.append(
            f"| {f['runs']:,} | {f['rebuild_s']:.1f} ({wall_target}) | {f['rebuild_cpu_s']:.1f} "
            f"| {f['rebuild_rss_mib']:.0f} "
            f"| {_cell(f, 'rebuild_tree_rss_mib', 1, 0)} / {_cell(f, 'rebuild_tree_pss_mib', 1, 0)}"
            f" ({rss_target}) "
            f"| {_cell(f, 'mlflow_process_s', 1, 1)} | {_cell(f, 'mlflow_process_cpu_s', 1, 1)} "
            f"| {low:.1f}-{high:.1f} |"
        )
    lines += [
        "",
        "Cold rebuild: `gitruns ls --filter ... --format csv -c id` with the cache deleted: "
        "every run read from git, validated and written to a new cache file by the command "
        "and one worker process per other CPU, the file put in place when whole (CPU time "
        "counts the workers). "
        "Memory is sampled every 20 ms over the whole process tree; RSS counts the pages "
        "that forked workers share with their parent once per process, PSS shares them out. "
        "MLflow keeps its runs in the database itself, so its cold start is a whole process: "
        "`import mlflow` and two `search_runs` calls, run in turn with each rebuild.",
    ]
    lines += _before_and_after(rows)
    lines += [
        "",
        "### Search from the cache",
        "",
        "| runs | `search_runs`: wall ms | CPU ms | MLflow sqlite `search_runs`: wall ms | CPU ms "
        "| MLflow / gitruns, CPU (target >= 2) | `ls --format` json / csv, CPU (target <= 1.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in rows:
        if "search_s" not in f:
            continue
        mlflow = f.get("mlflow_search_cpu_s")
        ratio = f"{mlflow / f['search_cpu_s']:.1f}x" if mlflow else "-"
        ls_ratio = f"{f['ls_json_cpu_s'] / f['ls_csv_cpu_s']:.2f}x"
        lines.append(
            f"| {f['runs']:,} | {_cell(f, 'search_s', 1000, 0)} "
            f"| {_cell(f, 'search_cpu_s', 1000, 0)} "
            f"| {_cell(f, 'mlflow_search_s', 1000, 0)} "
            f"| {_cell(f, 'mlflow_search_cpu_s', 1000, 0)} "
            f"| {ratio} | {ls_ratio} |"
        )
    lines += [
        "",
        "Search: the filter of `bench_query.py` (about 2% "
        "of the runs match), the second call in a process, timed inside it: "
        "`gitruns.search_runs` returns full `Run` objects from the cache, MLflow "
        '`search_runs(output_format="list")`. `ls --format json` prints every run in full '
        "(the `show --format json` shape), csv the default columns; whole processes.",
    ]
    return "\n".join(lines)


def _before_and_after(rows: list[dict[str, Any]]) -> list[str]:
    """The cold rebuild of ``--before``'s gitruns and of this one, run in turn."""
    measured = [f for f in rows if "before_rebuild_cpu_s" in f]
    if not measured:
        return []
    lines = [
        "",
        f"Before and after (`--before`: the gitruns of `{measured[0]['before']}`; the cold "
        "rebuilds of the two run in turn, same repository, same minutes; workers asleep: "
        "the time the worker processes neither ran nor waited for a CPU, from "
        "/proc/<pid>/schedstat: waiting for work or for the write lock, which the load of "
        "the machine does not change):",
        "",
        "| runs | before: wall s | CPU s (each) | tree PSS MiB | workers asleep s "
        "| after: wall s | CPU s (each) | tree PSS MiB | workers asleep s | CPU after / before |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in measured:
        each = ", ".join(f"{cpu:.1f}" for cpu in f["before_rebuild_cpu_samples"])
        each_after = ", ".join(f"{cpu:.1f}" for cpu in f["rebuild_cpu_samples"])
        lines.append(
            f"| {f['runs']:,} | {f['before_rebuild_s']:.1f} | {f['before_rebuild_cpu_s']:.1f} "
            f"({each}) | {f['before_rebuild_tree_pss_mib']:.0f} "
            f"| {f['before_rebuild_asleep_s']:.2f} | {f['rebuild_s']:.1f} "
            f"| {f['rebuild_cpu_s']:.1f} ({each_after}) | {f['rebuild_tree_pss_mib']:.0f} "
            f"| {f['rebuild_asleep_s']:.2f} "
            f"| {f['rebuild_cpu_s'] / f['before_rebuild_cpu_s']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--rebuild-only-from", type=int, default=100_000, help="sizes from N: cold rebuild only"
    )
    parser.add_argument(
        "--warm-only", action="store_true", help="no cold rebuild: search and ls only (no docs)"
    )
    parser.add_argument(
        "--rebuild-only",
        action="store_true",
        help="every size: the cold rebuild only, --repeat times (no search, no docs)",
    )
    parser.add_argument(
        "--before",
        metavar="REVISION",
        help="also time the cold rebuild of this commit's gitruns, in turn with this one",
    )
    args = parser.parse_args()
    before = gitruns_at(args.before) if args.before else None
    rows = []
    for n in args.runs:
        big = n >= args.rebuild_only_from
        repeat = 1 if big and not args.rebuild_only else args.repeat
        big = big or args.rebuild_only
        rows.append(
            figures(
                n,
                repeat,
                mlflow=not args.no_mlflow,
                rebuild_only=big,
                warm_only=args.warm_only,
                before=before,
            )
        )
        print(json.dumps(rows[-1], indent=2), flush=True)
    if args.warm_only or args.rebuild_only:
        return  # the docs' table needs the cold rebuild and the search
    text = report(rows)
    print(text)
    if not args.no_docs:
        write_section("cache", text)


if __name__ == "__main__":
    main()
