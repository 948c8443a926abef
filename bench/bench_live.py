"""Benchmark: reading a run in progress does not slow the run down.

    python bench/bench_live.py            # writes the `live` section of docs/benchmarks.md
    python bench/bench_live.py --quick    # fewer points and rounds, no file written

A writer process logs points as fast as it can (``run.log_metric`` in a loop, as a
training loop would at its most intense) while, in another process, nothing reads the
run, a reader polls it every 0.5 s (what ``gitruns logs --follow`` and ``plot --follow``
do), or a reader reads it back to back (the worst case). The writer's throughput in the
three cases, and what one read costs as the run grows, are the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_record import make_repo, write_section  # noqa: E402

WRITER = """
import sys, time
from pathlib import Path
import gitruns
points, ready = int(sys.argv[1]), Path(sys.argv[2])
run = gitruns.start_run("bench-live", params={"lr": 0.1})
run.log_metric("loss", 1.0, step=0)
run._writer.flush()
ready.write_text(run.id)
start = time.perf_counter()
for step in range(1, points):
    run.log_metric("loss", 1.0 / step, step=step)
elapsed = time.perf_counter() - start
run.end()
print(elapsed)
"""

READER = """
import sys, time
from pathlib import Path
from gitruns.recording.repository import open_store
from gitruns.runs.live import live_run_dirs, read_live_run
interval, done = float(sys.argv[1]), Path(sys.argv[2])
store = open_store(recover=False)
reads, costs = 0, []
while not done.exists():
    for folder in live_run_dirs(store).values():
        start = time.perf_counter()
        try:
            read_live_run(store, folder)
        except (OSError, ValueError):
            continue
        costs.append(time.perf_counter() - start)
        reads += 1
    if interval:
        time.sleep(interval)
print(reads, sum(costs) / max(len(costs), 1))
"""


def one_round(repo: Path, points: int, interval: float | None) -> tuple[float, int, float]:
    """(writer's seconds for ``points`` points, reads made, mean seconds a read)."""
    work = Path(tempfile.mkdtemp(prefix="live-"))
    ready, done = work / "ready", work / "done"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(points), str(ready)],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    while not ready.exists():
        time.sleep(0.01)
    reader = None
    if interval is not None:
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(interval), str(done)],
            cwd=repo,
            stdout=subprocess.PIPE,
            text=True,
        )
    out, _ = writer.communicate()
    done.touch()
    reads, cost = 0, 0.0
    if reader is not None:
        numbers = reader.communicate()[0].split()
        reads, cost = int(numbers[0]), float(numbers[1])
    return float(out.strip()), reads, cost


def read_cost(repo: Path, points: int) -> tuple[float, float]:
    """Seconds for one ``read_live_run`` of a run in progress holding ``points`` points:
    with the writer's published summaries (live.json) and 1,000 points written since, and
    from scratch (no live.json: every point parsed)."""
    script = f"""
import time, gitruns
from gitruns.runs.live import read_live_run
run = gitruns.start_run("sized")
for step in range({points}):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
run._writer.flush(publish=True)
for step in range({points}, {points} + 1000):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
run._writer.flush()

def best():
    times = []
    for _ in range(3):
        start = time.perf_counter()
        read_live_run(run.store, run.run_dir)
        times.append(time.perf_counter() - start)
    return min(times)

published = best()
(run.run_dir / "live.json").unlink()
print(published, best())
run.end()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, check=True
    )
    published, scratch = result.stdout.split()
    return float(published), float(scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    points = 300_000 if args.quick else 2_000_000
    rounds = 1 if args.quick else 3
    parent = Path(tempfile.mkdtemp(prefix="bench-live-"))
    repo = make_repo(parent, "repo")
    rows = []
    for label, interval in (
        ("nothing reads the run", None),
        ("a reader polls every 0.5 s (`--follow`)", 0.5),
        ("a reader reads back to back", 0.0),
    ):
        results = [one_round(repo, points, interval) for _ in range(rounds)]
        seconds = statistics.median(r[0] for r in results)
        reads = statistics.median(r[1] for r in results)
        cost = statistics.median(r[2] for r in results)
        read_text = (
            f"{reads:.0f} reads, {cost * 1000:.0f} ms each on average"
            if interval is not None
            else "-"
        )
        rows.append(f"| {label} | {points / seconds:,.0f} points/s | {read_text} |")
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    costs = []
    for n in sizes:
        published, scratch = read_cost(repo, n)
        costs.append(f"| {n:,} points | {published * 1000:,.1f} ms | {scratch * 1000:,.1f} ms |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared; load average "
        f"{load:.1f} at the end), Python {platform.python_version()}; "
        f"measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC.",
        "",
        f"A writer logs {points:,} points of one metric with `run.log_metric` in a loop; "
        f"medians of {rounds} rounds.",
        "",
        "| while the writer logs | writer throughput | reader |",
        "|---|---|---|",
        *rows,
        "",
        "A read parses the points written since the writer last published its summaries,"
        " up to half a second's worth: about 100,000 for this writer, which logs as fast as"
        " it can; a training loop logging hundreds of points a second costs a reader a few"
        " milliseconds (next table).",
        "",
        "One read of a run in progress (`read_live_run`: start document, events, metric"
        " summaries), by the number of points logged: as readers do it, from the summaries"
        " the writer's periodic flush published (`live.json`) plus the 1,000 points written"
        " since; and from scratch, parsing every point (the cost before `live.json`):",
        "",
        "| run in progress holding | one read (live.json + newer points) | from scratch |",
        "|---|---|---|",
        *costs,
        "",
        "The reader takes no lock the writer waits for and writes nothing, so the writer"
        " never blocks on it; what a back-to-back reader can take from the writer is CPU"
        " time, on a machine with fewer free cores than busy processes.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("live", "python bench/bench_live.py", text, "Reading runs in progress")


if __name__ == "__main__":
    main()
