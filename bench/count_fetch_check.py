"""The cost of a fetch's tree check (``check_run_refs``) alone, Python and its ``git
cat-file`` child apart: instructions (valgrind) or CPU seconds, before and after a change.

A fetch checks every fetched run's tree (``gitruns.runs.untrusted.check_run_refs``, through
``gitruns.runs.treecheck``). This runs that check as ``gitruns fetch`` runs it after its
``git fetch``: the refs under ``refs/remote-runs/origin/`` read from git's files
(``sharing.reffiles``; the check then reads the runs' commits itself), in a clone that
fetched them. The clone is made once under ``--work`` from ``bench/gen_runs.py``'s
repository (``--no-local``: a local clone would hardlink the objects), or with
``--distinct`` from runs whose ``metrics/`` folders all differ (no folder shape repeats
but the root's):

- ``count`` (the default): user-space instructions with valgrind's cachegrind
  (``--cache-sim=no``, ``--trace-children=yes``), which the machine's load does not move.
  Two processes a tree: ``setup`` (imports, the refs listed, nothing checked) and
  ``check`` (the same, then the check); the check's Python is their difference, and so is
  its git side (the ``git cat-file`` session, and ``git config`` of the partial-clone
  question).
- ``time``: CPU seconds (user + system) of the check in process, its git children apart
  (``getrusage``), ``--rounds`` rounds, each tree in turn (the order alternates), with the
  load average; medians.
- ``fetch``: CPU seconds of a whole ``python -m gitruns fetch origin`` (this Python, each
  tree's gitruns) and of the raw ``git fetch origin 'refs/runs/*:refs/remote-runs/origin/*'``,
  each into a fresh ``--no-local`` clone of the remote, interleaved; medians. (The
  compaction a fetch leaves running in the background is not counted.)

``--tree`` names another tree's gitruns (a folder holding a ``gitruns`` package, e.g.
``git archive <commit> gitruns | tar -x -C <folder>``), so the same check is compared::

    python bench/count_fetch_check.py --runs 10000                       # this tree
    python bench/count_fetch_check.py --runs 10000 --tree /tmp/before    # another
    python bench/count_fetch_check.py --mode time --runs 10000 --tree /tmp/before --tree .
    python bench/count_fetch_check.py --mode fetch --runs 1000 --rounds 10 --tree /tmp/b --tree .

Needs valgrind for ``count`` (``apt-get install valgrind``). Not in docs/benchmarks.md: a
tool for docs/design.md's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "refs/remote-runs/origin/"

WORKER = """
import json, resource, sys, time
phase = sys.argv[1]
from gitruns.runs.untrusted import check_run_refs
from gitruns.sharing.lightrepo import open_for_transfer
from gitruns.sharing.reffiles import refs_under
from gitruns.sharing.refs import list_refs_with_trees, under
store, prefix = open_for_transfer(), "refs/remote-runs/origin/"
files, trees = refs_under(store.common_dir, prefix), None  # as a fetch lists them after
if files is None:
    files, trees = list_refs_with_trees(store, prefix)
refs = under(files, prefix)
def children():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
if phase == "check":
    c, k = time.process_time(), children()
    runs = [(prefix + i, i, commit) for i, commit in refs.items()]
    failed = check_run_refs(store, runs, root_trees=trees)
    python, git = time.process_time() - c, children() - k
    if failed:
        raise SystemExit(f"{len(failed)} generated runs failed the check")
    print(json.dumps({"python": python, "git": git, "runs": len(runs)}))
"""


def clone_of(runs: int, work: Path, distinct: bool) -> Path:
    """A clone that fetched the ``runs`` runs of gen_runs' repository (``distinct``: of
    ``distinct_runs``) into refs/remote-runs/origin/ (made once)."""
    kind = "distinct-" if distinct else ""
    clone = work / f"clone-{kind}{runs}"
    if (clone / ".git").is_dir():
        return clone
    if distinct:
        source = distinct_runs(runs, work / f"source-distinct-{runs}")
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from gen_runs import generate

        source = Path(generate(runs))
    remote = work / f"remote-{kind}{runs}.git"
    shutil.rmtree(remote, ignore_errors=True)
    shutil.rmtree(clone, ignore_errors=True)
    git = ["git", "-c", "advice.detachedHead=false"]
    subprocess.run([*git, "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(
        [*git, "-C", str(source), "push", "-q", str(remote), "main", "refs/runs/*:refs/runs/*"],
        check=True,
    )
    subprocess.run([*git, "clone", "-q", "--no-local", str(remote), str(clone)], check=True)
    subprocess.run(
        [*git, "-C", str(clone), "fetch", "-q", "origin", f"refs/runs/*:{PREFIX}*"],
        check=True,
    )
    return clone


def distinct_runs(runs: int, repo: Path) -> Path:
    """Small runs whose ``metrics/`` folders all differ (each holds a metric named after
    its run, and one of 50 shared names): no folder shape but the root repeats much."""
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    ident = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run(
        ["git", *ident, "commit", "-q", "--allow-empty", "-m", "initial"], cwd=repo, check=True
    )
    sys.path.insert(0, str(ROOT))
    from gitruns.format.ids import new_run_id

    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=repo, stdin=subprocess.PIPE
    )
    assert importer.stdin is not None
    out = importer.stdin
    for i in range(runs):
        out.write(f"commit refs/runs/{new_run_id()}\n".encode())
        out.write(f"committer Bench <bench@example.com> {1_700_000_000 + i} +0000\n".encode())
        out.write(b"data 6\nrun %d\n" % (i % 10))
        files = {
            "run.yaml": b"name: run-%d\n" % i,
            "params.yaml": b"lr: %d\n" % i,
            "summary.yaml": b"loss: %d\n" % i,
            "artifacts.yaml": b"[]\n",
            f"metrics/m{i}.csv": b"step,value\n0,%d\n" % i,
            f"metrics/n{i % 50}.csv": b"step,value\n1,%d\n" % i,
        }
        for path, data in files.items():
            out.write(f"M 100644 inline {path}\n".encode())
            out.write(b"data %d\n%s\n" % (len(data), data))
        out.write(b"\n")
    out.write(b"done\n")
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    return repo


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}


def count(tree: Path, phase: str, clone: Path) -> tuple[int, int]:
    """Instructions of the worker's Python process and of its git children."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                "--trace-children=yes",
                f"--cachegrind-out-file={out}/cg.%p",
                sys.executable,
                "-c",
                WORKER,
                phase,
            ],
            cwd=clone,
            env=env_for(tree),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the {phase} worker failed:\n{done.stderr[-3000:]}")
        python = git = 0
        for path in Path(out).iterdir():
            text = path.read_text(errors="replace")
            command = re.search(r"^cmd: (.*)$", text, re.MULTILINE)
            total = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if command is None or total is None:
                continue
            if "python" in command.group(1).split()[0]:
                python += int(total.group(1))
            else:
                git += int(total.group(1))
    return python, git


def timed(tree: Path, clone: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, "check"],
        cwd=clone,
        env=env_for(tree),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the check failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout), "load": os.getloadavg()[0]}


def whole_fetches(trees: list[Path], remote: Path, runs: int, rounds: int) -> None:
    ways: list[Path | None] = [None, *trees]  # None: raw git
    cpu: dict[Path | None, list[float]] = {way: [] for way in ways}
    loads = []
    for index in range(rounds):
        for way in ways if index % 2 == 0 else ways[::-1]:
            with tempfile.TemporaryDirectory(dir=remote.parent) as folder:
                clone = Path(folder) / "clone"
                subprocess.run(
                    ["git", "clone", "-q", "--no-local", str(remote), str(clone)],
                    check=True,
                    capture_output=True,
                )
                if way is None:
                    args = ["git", "fetch", "-q", "origin", f"refs/runs/*:{PREFIX}*"]
                    env = dict(os.environ)
                else:
                    args = [sys.executable, "-m", "gitruns", "fetch", "origin"]
                    env = env_for(way)
                before = children_cpu()
                subprocess.run(args, cwd=clone, env=env, check=True, capture_output=True)
                cpu[way].append(children_cpu() - before)
                listed = subprocess.run(
                    ["git", "for-each-ref", PREFIX],
                    cwd=clone,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                if listed.stdout.count("\n") != runs:
                    raise SystemExit(f"{way or 'git'} fetched {listed.stdout.count(chr(10))} runs")
                loads.append(os.getloadavg()[0])
                time.sleep(1)  # the fetch's background compaction ends before the folder goes
    for way, values in cpu.items():
        median = statistics.median(values)
        print(
            f"{way or 'raw git fetch'}: CPU median of {len(values)} {median:.3f} s"
            f" ({', '.join(f'{v:.2f}' for v in values)}; load {min(loads):.1f}-{max(loads):.1f})"
        )


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mode", choices=("count", "time", "fetch"), default="count")
    parser.add_argument("--tree", type=Path, action="append", help="folder holding gitruns/")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--distinct", action="store_true", help="runs whose metrics/ folders all differ"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "fetch-check")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    clone = clone_of(args.runs, args.work, args.distinct)
    trees = [tree.resolve() for tree in args.tree or [ROOT]]
    print(f"{args.runs} fetched runs in {clone}; load {os.getloadavg()[0]:.2f}")
    if args.mode == "count":
        for tree in trees:
            timed(tree, clone)  # compiles the tree's modules first: counted as in use
            setup, setup_git = count(tree, "setup", clone)
            checked, checked_git = count(tree, "check", clone)
            python, git = checked - setup, checked_git - setup_git
            print(
                f"{tree}: the check's Python {python:,} instructions, "
                f"its git processes {git:,}, both {python + git:,}"
            )
        return
    if args.mode == "fetch":
        remote = clone.parent / clone.name.replace("clone-", "remote-", 1)
        whole_fetches(trees, remote.with_name(remote.name + ".git"), args.runs, args.rounds)
        return
    samples: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
    for index in range(args.rounds):
        for tree in trees if index % 2 == 0 else trees[::-1]:
            samples[tree].append(timed(tree, clone))
    for tree, values in samples.items():
        python = [v["python"] for v in values]
        both = statistics.median(v["python"] + v["git"] for v in values)
        loads = [v["load"] for v in values]
        print(
            f"{tree}: CPU medians of {len(values)}: Python {statistics.median(python):.3f} s, "
            f"git {statistics.median(v['git'] for v in values):.3f} s, both {both:.3f} s "
            f"(Python {min(python):.3f}-{max(python):.3f}; "
            f"load {min(loads):.1f}-{max(loads):.1f})"
        )


if __name__ == "__main__":
    main()
