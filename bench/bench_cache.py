"""Benchmark: the query cache at scale (cold rebuild, search served from the cache).

Uses the repositories of ``bench/gen_runs.py`` (made once under bench/.work/) and MLflow's
sqlite store of the same runs (``bench_query.mlflow_store``, in bench/.work/venv):

    python bench/bench_cache.py --runs 1000 10000 100000   # measure, update docs
    python bench/bench_cache.py --runs 1000 --no-docs       # a quick look

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
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import FILTER, MLFLOW_FILTER, MLFLOW_WORKER, bench_python, mlflow_store  # noqa: E402
from gen_runs import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:cache -->", "<!-- /bench:cache -->"
SEARCH = (
    "import time, gitruns; t = time.perf_counter();"
    "runs = gitruns.search_runs({filter!r}); s = time.perf_counter() - t;"
    "t = time.perf_counter(); runs2 = gitruns.search_runs({filter!r});"
    "print(s, time.perf_counter() - t, len(runs2))"
)


def run_process(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time, CPU time and peak RSS (MiB, the largest process) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    # ru_maxrss of children is the largest child so far: measure in a fresh helper process
    return {"wall_s": wall, "cpu_s": cpu, "stdout": result.stdout}


def peak_rss_mib(command: list[str], cwd: Path) -> float:
    """Peak RSS of ``command`` and its workers, measured in a fresh intermediate process
    (``RUSAGE_CHILDREN`` keeps the largest child ever waited for, so each gets its own)."""
    probe = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return int(out.stdout.strip()) / 1024


def _drop_cache(repo: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{repo}/.git/gitruns/cache.sqlite{suffix}").unlink(missing_ok=True)


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def figures(n: int, repeat: int = 3, mlflow: bool = True) -> dict[str, Any]:
    """Measure one size: the cold rebuild, search and ``ls --format json``/csv."""
    repo = generate(n)
    gitruns = [sys.executable, "-m", "gitruns"]
    ls_cold = [*gitruns, "ls", "--filter", FILTER, "--format", "csv", "-c", "id"]
    found: dict[str, Any] = {"runs": n, "cpus": os.cpu_count()}
    cold = []
    for _ in range(repeat):
        _drop_cache(repo)
        cold.append(run_process(ls_cold, repo))
    found["rebuild_s"] = _median(cold, "wall_s")
    found["rebuild_cpu_s"] = _median(cold, "cpu_s")
    _drop_cache(repo)
    found["rebuild_rss_mib"] = peak_rss_mib(ls_cold, repo)
    search = [sys.executable, "-c", SEARCH.format(filter=FILTER)]
    warm = [run_process(search, repo)["stdout"].split() for _ in range(repeat)]
    found["search_s"] = statistics.median(float(w[1]) for w in warm)
    found["search_matches"] = int(warm[0][2])
    for fmt in ("csv", "json"):
        listing = [run_process([*gitruns, "ls", "--format", fmt], repo) for _ in range(repeat)]
        found[f"ls_{fmt}_s"] = _median(listing, "wall_s")
        found[f"ls_{fmt}_cpu_s"] = _median(listing, "cpu_s")
    if mlflow:
        uri = mlflow_store("sqlite", n)
        command = [str(bench_python()), "-c", MLFLOW_WORKER, str(ROOT / "bench")]
        command += ["search", uri, str(n), MLFLOW_FILTER]
        env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet"}
        work = repo.parent
        runs = [json.loads(run_process(command, work, env)["stdout"].splitlines()[-1])]
        runs += [json.loads(run_process(command, work, env)["stdout"].splitlines()[-1])]
        found["mlflow_search_s"] = statistics.median(r["search_s"] for r in runs)
        found["mlflow_matches"] = runs[0]["matches"]
    found["load_average"] = os.getloadavg()[0]
    return found


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "## The query cache at scale: cold rebuild, search from the cache",
        "",
        f"Reproduce: `python bench/bench_cache.py --runs {' '.join(str(r['runs']) for r in rows)}`"
        " (runs made once by `bench/gen_runs.py`: one real run as the template, the rest "
        "streamed into `git fast-import`; the params, metrics and tags of `bench_query.py`). "
        f"Machine: {rows[0]['cpus']} CPUs shared with other work while measured (load average "
        f"{rows[-1]['load_average']:.1f} at the end): wall times are loaded-machine figures, "
        "CPU time is steadier. Medians of whole fresh processes.",
        "",
        "| runs | cold rebuild wall s (target) | CPU s | peak RSS MiB (target) "
        "| `search_runs` ms | MLflow sqlite `search_runs` ms | MLflow / gitruns "
        "| `ls --format json` s | `ls --format csv` s | json / csv |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    targets = {10_000: ("< 2", "-"), 100_000: ("< 20", "< 200")}
    for f in rows:
        wall_target, rss_target = targets.get(f["runs"], ("-", "-"))
        mlflow = f.get("mlflow_search_s")
        ratio = f"{mlflow / f['search_s']:.1f}x" if mlflow else "-"
        mlflow_ms = f"{mlflow * 1000:.0f} ({f['mlflow_matches']} runs)" if mlflow else "-"
        lines.append(
            f"| {f['runs']:,} | {f['rebuild_s']:.2f} ({wall_target}) | {f['rebuild_cpu_s']:.2f} "
            f"| {f['rebuild_rss_mib']:.0f} ({rss_target}) "
            f"| {f['search_s'] * 1000:.0f} ({f['search_matches']} runs) | {mlflow_ms} | {ratio} "
            f"| {f['ls_json_s']:.2f} | {f['ls_csv_s']:.2f} "
            f"| {f['ls_json_s'] / f['ls_csv_s']:.2f}x |"
        )
    lines += [
        "",
        "Cold rebuild: `gitruns ls --filter ... --format csv -c id` with the cache deleted "
        "(every run read from git, validated and written to the cache). `search_runs`: the "
        "second call in a process (the first also imports the query code), full `Run` "
        'objects; MLflow: the `search_runs` call alone, `output_format="list"`.',
    ]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
    if MARK_BEGIN in current and MARK_END in current:
        head, rest = current.split(MARK_BEGIN, 1)
        current = head + block + rest.split(MARK_END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    rows = []
    for n in args.runs:
        rows.append(figures(n, args.repeat, mlflow=not args.no_mlflow))
        print(json.dumps(rows[-1], indent=2), flush=True)
    text = report(rows)
    print(text)
    if not args.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
