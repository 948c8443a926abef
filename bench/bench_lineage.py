"""Benchmark: what lineage (``parent``/``child``/``children``) adds to a query of 10,000 runs.

Every ``select_runs`` looks up each row's parents and children in the cache
(``cache._lineage``: the ``run_parents`` table and the names of parents). This builds a
cache file of N synthetic rows (about 3 KB of JSON each, like real runs) in a temporary
folder, with no nesting and with every run in a sweep (1 parent : 9 children), and times
that lookup, attaching it to the rows, and filtering on the lineage fields, next to the
plain read of every row that a query without a pre-filter does anyway.

    python bench/bench_lineage.py                 # 10,000 runs, update docs/benchmarks.md
    python bench/bench_lineage.py --runs 1000 --no-docs

Figures go to docs/benchmarks.md between <!-- bench:lineage --> markers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_section  # noqa: E402

from gitruns.query import cache, compile_filter, parse  # noqa: E402
from gitruns.query.lineage import LazyLineage, Lineage  # noqa: E402

SWEEP = 10  # a parent and 9 children


def run_id(index: int) -> str:
    return f"01a2{index:04x}-0000-7000-8000-{index:012x}"


def row(index: int, nested: bool) -> tuple[Any, ...]:
    parent = index - index % SWEEP
    parents = [run_id(parent)] if nested and index != parent else []
    name = f"sweep-{index // SWEEP}" if not parents else f"trial-{index}"
    params = {f"p{k}": k * index for k in range(20)}
    metrics = {f"m{k}": [0.5, 0.1, 0.9, 100] for k in range(10)}
    record = {"id": run_id(index), "name": name, "params": params, "notes": ["x" * 1500]}
    extras = {"parents": parents, "entry_point": "train.py", "note": None, "dirty": False}
    values: dict[str, Any] = {
        "ref": f"refs/runs/{run_id(index)}",
        "commit_id": f"{index:040x}",
        "run_id": run_id(index),
        "origin": "local",
        "name": name,
        "status": "FINISHED",
        "start_ts": 1.79e9 + index,
        "params": json.dumps(params),
        "metrics": json.dumps(metrics),
        "tags": json.dumps({"team": "a"}),
        "resources": "{}",
        "record": json.dumps(record),
        "extras": json.dumps(extras),
    }
    return tuple(values.get(column) for column in cache._COLUMNS)


def build(path: Path, runs: int, nested: bool) -> dict[str, tuple[str, str, str]]:
    db = cache._connect(path)
    rows = [cache.CachedRun(row(i, nested)) for i in range(runs)]
    cache._write(db, rows, [])
    db.close()
    return {r.ref: (r.run_id, "local", r.commit_id) for r in rows}


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(runs: int, repeat: int) -> list[tuple[str, str, float]]:
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for nested in (False, True):
            path = Path(folder) / f"cache-{nested}.sqlite"
            figures += measure_shape(path, runs, nested, repeat)
    return figures


def measure_shape(path: Path, runs: int, nested: bool, repeat: int) -> list[tuple[str, str, float]]:
    shape = "every run in a sweep of 10" if nested else "no nesting"
    refs = build(path, runs, nested)
    db = cache._connect(path)
    try:
        rows = list(cache._select(db, None).values())
        read = median_seconds(lambda: cache._select(db, None), repeat)
        lookup = median_seconds(lambda: cache._lineage(db, refs, {}, []), repeat)
        lineage: Lineage = cache._lineage(db, refs, {}, [])
    finally:
        db.close()

    def attach() -> None:
        lazy = LazyLineage(lambda: lineage)
        for item in rows:
            item.lineage = lazy

    figures = [
        (shape, "read every row (a query without pre-filter)", read),
        (shape, "lineage lookup (`cache._lineage`), only when a lineage field is read", lookup),
        (
            shape,
            "attach the lazy lookup to every row (every query)",
            median_seconds(attach, repeat),
        ),
    ]
    attach()
    for text in ("children > 0", "parent = 'sweep-17'"):
        predicate = compile_filter(parse(text))
        seconds = median_seconds(lambda p=predicate: [p(r) for r in rows], repeat)  # type: ignore[misc]
        figures.append((shape, f"evaluate `{text}` on every row", seconds))
    return figures


def render(runs: int, figures: list[tuple[str, str, float]]) -> str:
    lines = [
        f"## Lineage: what `parent`/`children` add to a query of {runs:,} runs",
        "",
        f"Reproduce: `python bench/bench_lineage.py --runs {runs}` (a synthetic cache file of "
        f"{runs:,} rows, about 3 KB each; medians, in process).",
        f"Machine: {os.cpu_count()} CPUs, shared with other work while measured (load "
        f"average {os.getloadavg()[0]:.1f} at the end): compare the rows with each other.",
        "",
        "| runs | step | ms |",
        "|---|---|---|",
    ]
    lines += [f"| {shape} | {step} | {seconds * 1000:.1f} |" for shape, step, seconds in figures]
    lines += [
        "",
        "Every `select_runs` attaches the lazy lookup; the lookup and the evaluation happen "
        "only when a filter, sort key, column or check names `parent`, `child` or "
        "`children`. The lookup reads the small `run_parents` table and the names of "
        "parents by an index on run ids; without nesting both are empty.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    text = render(args.runs, measure(args.runs, args.repeat))
    print(text)
    if not args.no_docs:
        write_section("lineage", text)


if __name__ == "__main__":
    main()
