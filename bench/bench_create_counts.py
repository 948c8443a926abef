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
    python bench/bench_create_counts.py --runs 0 --timed-rounds 6   # timed only

With ``--timed-rounds N`` the same repositories are then timed: N rounds of one process
of 200 runs per repository, sizes interleaved in rotated order (so each sees the same
load), after a sync and 61 s of quiet; the least-CPU round and the medians are printed
with the load. A loose repository's refs get packed by the background compaction of its
first timed round (gitruns' own loose refs never outnumber an eighth of the packed ones).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_write_scale import SMALL_RUN, isolate, new_project, seed_refs, sh  # noqa: E402

WORKER = (
    """
import fcntl, os, sys
count = int(sys.argv[1])
import gitruns
assert gitruns.__file__.startswith(sys.argv[2]), gitruns.__file__

"""
    + SMALL_RUN
    + """
small_run(gitruns, -1)  # warm up: imports, the first Store, schema checks
with open(os.path.join(".git", "gitruns", "repack.lock"), "ab") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # the compaction the warm-up started has ended
for index in range(count):
    small_run(gitruns, index)
"""
)


def _worker_under(tool: list[str], project: Path, tree: Path, runs: int) -> str:
    """Run the worker writing ``runs`` runs under ``tool`` (valgrind, strace); its stderr."""
    done = subprocess.run(
        [*tool, sys.executable, "-c", WORKER, str(runs), str(tree / "gitruns")],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr


def instructions(project: Path, tree: Path, runs: int) -> int:
    """User-space instructions of one worker process writing ``runs`` runs."""
    stderr = _worker_under(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"],
        project,
        tree,
        runs,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def system_calls(project: Path, tree: Path, runs: int, out: Path) -> dict[str, int]:
    """System calls of one worker process writing ``runs`` runs, by name."""
    _worker_under(["strace", "-c", "-o", str(out)], project, tree, runs)
    calls: dict[str, int] = {}
    for line in out.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


TIMED = WORKER.replace(
    "for index in range(count):\n    small_run(gitruns, index)\n",
    """import resource, time
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for index in range(count):
    small_run(gitruns, index)
wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
print(1000 * wall / count, 1000 * (after.ru_utime - before.ru_utime) / count,
      1000 * (after.ru_stime - before.ru_stime) / count, os.getloadavg()[0])
""",
)


def timed_rounds(projects: dict[str, Path], tree: Path, runs: int, rounds: int) -> None:
    """Rounds of one worker per repository, the order rotated each round, so that every
    size sees the same load; ms a run (wall, user, system) of each round's process."""
    import statistics

    samples: dict[str, list[tuple[float, ...]]] = {name: [] for name in projects}
    names = list(projects)
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            done = subprocess.run(
                [sys.executable, "-c", TIMED, str(runs), str(tree / "gitruns")],
                cwd=projects[name],
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=True,
            )
            samples[name].append(tuple(map(float, done.stdout.split())))
    print(f"\n{rounds} rounds of {runs} runs, sizes interleaved (ms a run; user+sys = CPU)")
    print("| runs, refs | least-CPU round: wall / user / sys | median: wall / user / sys | load |")
    print("|---|---:|---:|---:|")
    for name, rows in samples.items():
        best = min(rows, key=lambda row: row[1] + row[2])
        median = [statistics.median(column) for column in zip(*rows, strict=True)]
        loads = [row[3] for row in rows]
        print(
            f"| {name} | {best[0]:.2f} / {best[1]:.2f} / {best[2]:.2f} |"
            f" {median[0]:.2f} / {median[1]:.2f} / {median[2]:.2f} |"
            f" {min(loads):.1f}-{max(loads):.1f} |"
        )


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
    parser.add_argument(
        "--timed-rounds",
        type=int,
        default=0,
        help="then time this many rounds, sizes interleaved, in the same repositories",
    )
    args = parser.parse_args()
    tree = args.tree.resolve()
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-create-counts-"))
    try:
        isolate(work / "home")
        print(f"tree {tree}")
        if args.runs:
            print(f"{args.runs} runs a process; per run: user-space instructions (cachegrind)")
            print("and system calls (strace -c) of the writing process")
            print("| runs | refs | instructions | system calls | openat |")
            print("|---:|---|---:|---:|---:|")
        projects: dict[str, Path] = {}
        for size in (int(n) for n in args.sizes.split(",")):
            for packed in (False, True):
                name = f"{size:,} {'packed' if packed else 'loose'}"
                project = new_project(work / f"create-{size}-{'packed' if packed else 'loose'}")
                seed_refs(project, size)
                if packed:
                    sh(project, "git", "pack-refs", "--all")
                if args.runs:
                    row = measure(project, tree, args.runs, work)
                    print(
                        f"| {size:,} | {'packed' if packed else 'loose'} |"
                        f" {row['instructions'] / 1e6:.3f} M | {row['syscalls']:.1f} |"
                        f" {row['openat']:.1f} |",
                        flush=True,
                    )
                if args.timed_rounds:
                    projects[name] = project
                else:
                    shutil.rmtree(project, ignore_errors=True)
        if projects:
            os.sync()
            time.sleep(61)  # freed inodes slow new files for 60 s here (bench_write_scale)
            timed_rounds(projects, tree, 200, args.timed_rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
