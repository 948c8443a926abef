"""Benchmark: peak memory of ``show``, ``metrics`` and ``plot`` on long metric series.

Records one run per size through the public API (``run.log_metric`` N times; cached
under bench/.work/metric-memory/), then runs each command as its own process with stdout
to /dev/null and reads its peak resident set size from ``wait4`` (the largest of the
process and the children it waited for, so a ``git cat-file`` it streams from counts):

    python bench/bench_metric_memory.py                      # 10k, 1M, 10M points; docs
    python bench/bench_metric_memory.py --points 10000 1000000 --no-docs

Figures go to docs/benchmarks.md between <!-- bench:metric-memory --> markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "metric-memory"
DEFAULT_POINTS = [10_000, 1_000_000, 10_000_000]
COMMANDS: list[tuple[str, list[str]]] = [
    ("`show RUN`", ["show", "RUN"]),
    ("`metrics RUN loss` (table)", ["metrics", "RUN", "loss"]),
    ("`metrics RUN loss --format csv`", ["metrics", "RUN", "loss", "--format", "csv"]),
    ("`metrics RUN loss --format json`", ["metrics", "RUN", "loss", "--format", "json"]),
    ("`plot loss RUN`", ["plot", "loss", "RUN", "--width", "80"]),
]
# After `git gc` the blob is packed and read through `git cat-file` instead.
PACKED_COMMANDS = [COMMANDS[0], COMMANDS[2], COMMANDS[4]]
# Measured with this script at commit 7497450, before reading metrics streamed (each
# command read the whole CSV, then held every point): 1,000,000 points, 41 MiB of CSV.
BEFORE = (
    "Before streaming (commit 7497450, same script, 1,000,000 points): `show` 174 MiB, "
    "`metrics` table 363 MiB, csv 363 MiB, json 1,417 MiB, `plot` 468 MiB; memory grew "
    "with the series (the issue measured 1.1 to 4.3 GB on a 250 MB CSV)."
)
MARK_BEGIN, MARK_END = "<!-- bench:metric-memory -->", "<!-- /bench:metric-memory -->"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(points: int) -> Path:
    """A repository with one run named ``long`` holding ``points`` points of ``loss``."""
    repo = WORK / f"points-{points}"
    if (repo / ".git" / "bench-done").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    identity = ["-c", "user.name=bench", "-c", "user.email=b@x"]
    git(repo, *identity, "commit", "-q", "--allow-empty", "-m", "initial")
    script = (
        "import math, gitruns\n"
        f"with gitruns.start_run('long', repo={str(repo)!r}) as run:\n"
        f"    for i in range({points}):\n"
        "        run.log_metric('loss', 1.0 / (1 + i) + 0.01 * math.sin(i), step=i)\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=True, env=_env())
    print(f"recorded {points:,} points in {time.perf_counter() - started:.1f} s", flush=True)
    (repo / ".git" / "bench-done").write_text("ok\n")
    return repo


def packed_copy(repo: Path) -> Path:
    """A copy of ``repo`` whose objects ``git gc`` packed (cached next to it)."""
    copy = repo.with_name(repo.name + "-packed")
    if not (copy / ".git" / "bench-done").exists():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(repo, copy)
        git(copy, "gc", "-q")
    return copy


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@x",
    }


def peak(repo: Path, args: list[str]) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of ``gitruns ARGS`` with stdout to /dev/null."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gitruns", *args], cwd=repo, stdout=sink, env=_env()
        )
        _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"gitruns {' '.join(args)} failed in {repo}")
    return usage.ru_maxrss / 1024, elapsed


def measure(sizes: list[int]) -> str:
    floor, _ = peak(make_repo(sizes[0]), ["--version"])
    csv_sizes = {}
    rows: dict[str, list[str]] = {label: [] for label, _ in COMMANDS}
    for points in sizes:
        repo = make_repo(points)
        csv_sizes[points] = _metric_bytes(repo)
        for label, args in COMMANDS:
            mib, seconds = peak(repo, [a.replace("RUN", "long") for a in args])
            rows[label].append(f"{mib:,.0f} MiB, {seconds:.1f} s")
            print(f"{points:>10,}  {label:<40} {mib:8.0f} MiB  {seconds:6.1f} s", flush=True)
    head = "| command | " + " | ".join(
        f"{p:,} points ({csv_sizes[p] / 2**20:,.1f} MiB CSV)" for p in sizes
    )
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Peak RSS of the whole command (gitruns and the git "
        f"process it streams from), and wall time with output to /dev/null (on a shared "
        f"machine: times are indicative, memory is not affected). "
        f"`gitruns --version` alone: {floor:.0f} MiB.",
        "",
        head + " |",
        "|---|" + "---|" * len(sizes),
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows.items()]
    packed = packed_copy(make_repo(sizes[-1]))
    lines += ["", f"The {sizes[-1]:,}-point run after `git gc` (blob packed):", ""]
    lines += ["| command | peak RSS, time |", "|---|---|"]
    for label, args in PACKED_COMMANDS:
        mib, seconds = peak(packed, [a.replace("RUN", "long") for a in args])
        lines.append(f"| {label} | {mib:,.0f} MiB, {seconds:.1f} s |")
        print(f"packed {label:<40} {mib:8.0f} MiB  {seconds:6.1f} s", flush=True)
    return "\n".join([*lines, "", BEFORE])


def _metric_bytes(repo: Path) -> int:
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(objectname)", "refs/runs/"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    size = subprocess.run(
        ["git", "cat-file", "-s", f"{out}:metrics/loss.csv"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(size)


def write_docs(body: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text()
    section = (
        f"{MARK_BEGIN}\n## Memory of `show`, `metrics` and `plot` on long series\n\n"
        f"Reproduce: `python bench/bench_metric_memory.py`\n\n{body}\n{MARK_END}"
    )
    if MARK_BEGIN in text and MARK_END in text:
        text = text.split(MARK_BEGIN)[0] + section + text.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=DEFAULT_POINTS)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    body = measure(sorted(args.points))
    print(body)
    if not args.no_docs:
        write_docs(body)


if __name__ == "__main__":
    main()
