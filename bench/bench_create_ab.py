"""Before/after: a small run's cost in two gitruns source trees, interleaved.

Each round starts one process per tree (alternating which goes first), each writing
``--runs`` small runs (2 params, 3 points, 1 tag through ``gitruns.start_run``, as
``bench_write_scale.py``) into a fresh repository after a warm-up run, and reports ms a
run: wall, and CPU (user and system) from getrusage. Rounds interleave the trees, so both
see the same load; the medians and the best round of each are printed, with the load
average. The trees are put first on PYTHONPATH, so they need no install of their own::

    git worktree add /tmp/gitruns-before <commit>
    python bench/bench_create_ab.py --before /tmp/gitruns-before --rounds 8 --runs 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the small run every create benchmark writes
from bench.bench_write_scale import SMALL_RUN  # noqa: E402

WORKER = (
    """
import os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path
work = Path(tempfile.mkdtemp(prefix="create-ab-"))
home = work / "home"
home.mkdir()
(home / ".gitconfig").write_text("[user]\\n\\tname = Bench\\n\\temail = b@example.com\\n")
os.environ.update(
    HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig")
)
for name in [n for n in os.environ if n.startswith("GITRUNS_")]:
    del os.environ[name]
project = work / "p"
subprocess.run(["git", "init", "-q", str(project)], check=True)
(project / "train.py").write_text("print('train')\\n")
subprocess.run(["git", "add", "train.py"], cwd=project, check=True)
subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=project, check=True)
os.chdir(project)
import gitruns
assert gitruns.__file__.startswith(sys.argv[2]), gitruns.__file__

"""
    + SMALL_RUN
    + """
small_run(gitruns, -1)
count = int(sys.argv[1])
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for index in range(count):
    small_run(gitruns, index)
wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
print(1000 * wall / count, 1000 * user / count, 1000 * system / count, os.getloadavg()[0])
shutil.rmtree(work, ignore_errors=True)
"""
)


def one_round(tree: Path, runs: int) -> tuple[float, float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(runs), str(tree / "gitruns")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"worker for {tree} failed:\n{done.stderr[-3000:]}")
    wall, user, system, load = map(float, done.stdout.split())
    return wall, user, system, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the older source tree")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this tree")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in trees}
    for round_number in range(args.rounds):
        order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
        for name in order:
            results[name].append(one_round(trees[name], args.runs))
    print(f"{args.rounds} rounds of {args.runs} small runs each, interleaved (ms a run)")
    for name, rows in results.items():
        wall, user, system, load = (list(column) for column in zip(*rows, strict=True))
        cpu = [u + s for u, s in zip(user, system, strict=True)]
        best = min(range(len(cpu)), key=cpu.__getitem__)
        print(
            f"{name:6} median wall {statistics.median(wall):.2f} cpu {statistics.median(cpu):.2f}"
            f" (user {statistics.median(user):.2f} sys {statistics.median(system):.2f})"
            f" | least-CPU round: wall {wall[best]:.2f} cpu {cpu[best]:.2f}"
            f" (user {user[best]:.2f} sys {system[best]:.2f})"
            f" | load {statistics.median(load):.1f} ({min(load):.1f}-{max(load):.1f})"
        )


if __name__ == "__main__":
    main()
