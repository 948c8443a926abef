"""What a small run costs at 1k, 10k and 100k runs, loose or packed, counted, not timed.

On this shared 2-core VM a run's CPU time moves by a third from minute to minute with the
load, and it has no hardware counters for ``perf stat``. So this counts what does not
depend on the load: the instructions a process executes in user space for each small run
it writes (valgrind's cachegrind, ``--cache-sim=no``), and its system calls a run
(``strace -c``). Each figure is the difference between a process writing ``--runs`` runs
and one writing none (both after the same warm-up run, and after the background
compaction that warm-up started has ended), divided by ``--runs``; the background
``git repack``/``pack-refs`` are other processes and not counted (``bench_write_scale.py``
times them). Repositories are made as ``bench_write_scale.py`` makes them (``seed_refs``:
one real run, the rest refs to its commit), loose as seeded or packed by ``git pack-refs
--all``. Needs ``valgrind`` and ``strace`` (``apt-get install valgrind strace``)::

    python bench/bench_create_counts.py                       # 1k, 10k, 100k; this tree
    python bench/bench_create_counts.py --sizes 100000 --tree /tmp/gitruns-before
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_write_scale import isolate, new_project, seed_refs, sh  # noqa: E402

WORKER = """
import fcntl, os, sys
count = int(sys.argv[1])
import gitruns
assert gitruns.__file__.startswith(sys.argv[2]), gitruns.__file__

def small_run(index):
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01, "batch": 32}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        run.log_metric("acc", 0.9, step=1)
        run.set_tag("model", "mlp")

small_run(-1)  # warm up: imports, the first Store, schema checks
with open(os.path.join(".git", "gitruns", "repack.lock"), "ab") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # the compaction the warm-up started has ended
for index in range(count):
    small_run(index)
"""


def instructions(project: Path, tree: Path, runs: int) -> int:
    """User-space instructions of one worker process writing ``runs`` runs."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            WORKER,
            str(runs),
            str(tree / "gitruns"),
        ],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def system_calls(project: Path, tree: Path, runs: int, out: Path) -> dict[str, int]:
    """System calls of one worker process writing ``runs`` runs, by name."""
    subprocess.run(
        [
            "strace",
            "-c",
            "-o",
            str(out),
            sys.executable,
            "-c",
            WORKER,
            str(runs),
            str(tree / "gitruns"),
        ],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        check=True,
    )
    calls: dict[str, int] = {}
    for line in out.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def measure(project: Path, tree: Path, runs: int, work: Path) -> dict[str, float]:
    base, loaded = instructions(project, tree, 0), instructions(project, tree, runs)
    before = system_calls(project, tree, 0, work / "strace-0.txt")
    after = system_calls(project, tree, runs, work / "strace-n.txt")
    per_call = {k: (v - before.get(k, 0)) / runs for k, v in after.items()}
    return {
        "instructions": (loaded - base) / runs,
        "syscalls": sum(per_call.values()),
        "openat": per_call.get("openat", 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=200, help="runs a measured process writes")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the gitruns source tree")
    args = parser.parse_args()
    tree = args.tree.resolve()
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-create-counts-"))
    try:
        isolate(work / "home")
        print(f"tree {tree}; {args.runs} runs a process; per run: user-space instructions")
        print("(cachegrind) and system calls (strace -c) of the writing process")
        print("| runs | refs | instructions | system calls | openat |")
        print("|---:|---|---:|---:|---:|")
        for size in (int(n) for n in args.sizes.split(",")):
            for packed in (False, True):
                project = new_project(work / f"create-{size}-{'packed' if packed else 'loose'}")
                seed_refs(project, size)
                if packed:
                    sh(project, "git", "pack-refs", "--all")
                row = measure(project, tree, args.runs, work)
                print(
                    f"| {size:,} | {'packed' if packed else 'loose'} |"
                    f" {row['instructions'] / 1e6:.3f} M | {row['syscalls']:.1f} |"
                    f" {row['openat']:.1f} |",
                    flush=True,
                )
                shutil.rmtree(project, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
