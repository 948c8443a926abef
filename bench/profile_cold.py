"""Profile one cold cache build phase by phase, in every process of it.

    python bench/profile_cold.py 10000            # wall-clock spans of each process
    python bench/profile_cold.py 10000 --cprofile # and cProfile of each process

Runs ``gitruns ls --filter ... --format csv -c id`` in this process, on the repository
of ``bench/gen_runs.py``, with the cache deleted first, and wraps the phases of the build
(ref listing, forking, reading a run: blob reads, YAML, schema checks, the row; writing
a batch, indexes, install, selecting rows back) with timers. Each process (the command
and its forked workers) writes its spans to ``bench/.work/profile/<pid>.json``; the
report prints a timeline per process and where each one waited. Not a benchmark of
record (the wrappers cost a few microseconds a call): it says where the time goes.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

OUT = Path(__file__).resolve().parent / ".work" / "profile"
SPANS: list[tuple[str, float, float]] = []  # (name, start, end) since STARTED
TOTALS: dict[str, list[float]] = {}  # name -> [seconds, calls]
STATE: dict[str, Any] = {"pid": os.getpid(), "profile": None}


def _span(name: str, fn: Any, *, total: bool = False) -> Any:
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if total:  # CPU time: the machine is shared
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = TOTALS.setdefault(name, [0.0, 0])
                entry[0] += time.process_time() - start
                entry[1] += 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPANS.append((name, start - STARTED, time.perf_counter() - STARTED))

    return wrapped


def _dump() -> None:
    pid = os.getpid()
    data = {"pid": pid, "parent": pid == STATE["pid"], "spans": SPANS, "totals": TOTALS}
    data["cpu"] = time.process_time()
    (OUT / f"{pid}.json").write_text(json.dumps(data))
    profile = STATE["profile"]
    if profile is not None:
        profile.dump_stats(OUT / f"{pid}.prof")


def _in_child() -> None:
    """First call in a forked worker: forget the parent's figures, profile afresh."""
    if STATE.get("child") == os.getpid():
        return
    STATE["child"] = os.getpid()
    SPANS.clear()
    TOTALS.clear()
    SPANS.append(("fork", time.perf_counter() - STARTED, time.perf_counter() - STARTED))
    if STATE["profile"] is not None:
        STATE["profile"].disable()
        STATE["profile"] = cProfile.Profile()
        STATE["profile"].enable()


def instrument() -> None:
    from gitruns.format import schema, yamlio
    from gitruns.query import build_file, cache, refstate
    from gitruns.runs import model
    from gitruns.storage import Store

    SPANS.append(("imports", 0.0, time.perf_counter() - STARTED))
    cache.current_refs = _span("list refs", cache.current_refs)
    refstate.take = _span("refstate.take", refstate.take)
    cache.Workers.__init__ = _span("fork workers", cache.Workers.__init__)
    cache._build = _span("build", cache._build)
    cache._select = _span("select rows back", cache._select)
    cache._snapshot = _span("snapshot", cache._snapshot)
    cache._remember = _span("remember refstate", cache._remember)
    build_file.BuildFile.install = _span("install", build_file.BuildFile.install)
    build_file.BuildFile.create = _span("create build file", build_file.BuildFile.create)
    Store.fetch_run_files = _span("fetch_run_files", Store.fetch_run_files)
    # per run, summed
    cache._read_row = _span("read row", cache._read_row, total=True)
    cache._valid_row = _span("  row values+json", cache._valid_row, total=True)
    cache.run_parts = _span("    record (marshal)", cache.run_parts, total=True)
    cache._sorted_json = _span("    column json", cache._sorted_json, total=True)
    Store.file_blob = _span("  file_blob (tree lookups)", Store.file_blob, total=True)
    Store.blob_data = _span("  blob_data", Store.blob_data, total=True)
    yamlio.load = _span("  yaml", yamlio.load, total=True)
    schema.validate = _span("  schema", schema.validate, total=True)
    model.read_run_document = _span("  read_run_document", model.read_run_document, total=True)
    cache._write = _span("write batch", cache._write, total=True)

    STATE["chunk"] = cache._read_and_write_chunk
    cache._read_and_write_chunk = _chunk
    original_batch = cache._read_and_write_batch

    def batch(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_batch(*args)
        finally:
            SPANS.append(("batch", start - STARTED, time.perf_counter() - STARTED))

    cache._read_and_write_batch = batch


def _chunk(*args: Any) -> Any:
    """A worker's batch (module level: the pool pickles it by name)."""
    _in_child()
    start = time.perf_counter()
    try:
        return STATE["chunk"](*args)
    finally:
        SPANS.append(("batch (worker)", start - STARTED, time.perf_counter() - STARTED))
        _dump()


def report() -> None:
    processes = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    processes.sort(key=lambda p: not p["parent"])
    for process in processes:
        role = "command" if process["parent"] else "worker"
        print(f"== {role} {process['pid']} (CPU {process['cpu']:.2f} s of this process)")
        spans = sorted(process["spans"], key=lambda s: s[1])
        batches = [s for s in spans if s[0].startswith("batch")]
        others = [s for s in spans if not s[0].startswith("batch")]
        for name, start, end in others:
            print(f"  {start:7.3f} -> {end:7.3f}  {end - start:7.3f}  {name}")
        if batches:
            busy = sum(end - start for _, start, end in batches)
            first, last = batches[0][1], batches[-1][2]
            print(
                f"  {first:7.3f} -> {last:7.3f}  {len(batches)} batches, busy {busy:.3f} s, "
                f"idle between {last - first - busy:.3f} s"
            )
        for name, (seconds, calls) in process["totals"].items():
            print(
                f"      {name:32s} {seconds:7.3f} s  {calls:6d} calls  "
                f"{seconds / max(calls, 1) * 1e6:7.1f} us"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=int)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_query import FILTER
    from gen_runs import generate

    repo = generate(args.runs)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{repo}/.git/gitruns/cache.sqlite{suffix}").unlink(missing_ok=True)
    if args.cprofile:
        STATE["profile"] = cProfile.Profile()
        STATE["profile"].enable()
    instrument()
    os.chdir(repo)
    from gitruns.cli.main import cli

    sys.argv = ["gitruns", "ls", "--filter", FILTER, "--format", "csv", "-c", "id"]
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    try:
        cli.main(args=sys.argv[1:], prog_name="gitruns", standalone_mode=False)
    finally:
        sys.stdout = stdout
    SPANS.append(("total", 0.0, time.perf_counter() - STARTED))
    if STATE["profile"] is not None:
        STATE["profile"].disable()
    _dump()
    report()
    if args.cprofile:
        for prof in sorted(OUT.glob("*.prof")):
            print(f"\n==== cProfile {prof.stem}")
            stats = pstats.Stats(str(prof))
            stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
