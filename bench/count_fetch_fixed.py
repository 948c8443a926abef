"""What a ``gitruns fetch`` costs besides raw git's fetch and the tree check's ``cat-file``.

A fetch into a fresh clone (``git clone --no-local``: a local clone would hardlink every
object, runs included, and nothing would transfer) of a bare remote holding the ``--runs``
runs of ``bench/gen_runs.py``'s repository. Three measures, each of the gitruns of a tree
(``--tree``, a folder holding a ``gitruns`` package; default this worktree) and, with
``--before REV``, of that commit's gitruns (extracted under bench/.work/), interleaved:

- instructions (``--count``; valgrind's cachegrind, ``--cache-sim=no``, every process of
  the tree but what the ``git fetch`` starts: the transfer itself, raw git's either way):
  the same whatever the load, sorted into gitruns' Python process, its ``git fetch`` by
  itself, the check's ``git cat-file``, the other short processes it waits for (``git
  rev-parse``, ``git config``, the ``sh`` that starts the background compaction) and that
  background job (not waited for by the fetch);
- CPU seconds (user + system) of the whole process tree a round, split into gitruns'
  Python process, its one ``git fetch`` (children's CPU around it) and the rest (its other
  git processes), with the load average: on the shared machine they swing by a third;
- the same CPU seconds of raw ``git fetch -q`` of the same runs (gitruns' refspec), in the
  same rounds, for the ratio;
- system calls of gitruns' Python process (``strace -c``, children not followed) and the
  processes it started (``strace -f -e trace=execve``).

gitruns runs as a user's install runs it: a bare venv (no editable-install finder in its
``site``), bytecode written beforehand, the console script's ``main()``::

    python bench/count_fetch_fixed.py --runs 1000 --before c8fc191 --count --rounds 5
    python bench/count_fetch_fixed.py --runs 10000 --before c8fc191 --rounds 5

Needs valgrind and strace (``apt-get install valgrind strace``). Not in
docs/benchmarks.md: a tool for docs/design.md's figures ("what a fetch costs besides the
check").
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# The console script pip writes for gitruns (it imports re and sys, then main()).
CONSOLE = "import re, sys; from gitruns.cli.entry import main; sys.exit(main())"

# The same, with gitruns' Python CPU and its git fetch's measured apart (as
# bench_sharing.py's GITRUNS_SELF_CPU): run_git is wrapped before any module binds it.
SPLIT = """
import atexit, json, os, resource, sys
fetch_cpu = [0.0]
def children():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
import gitruns.sharing.gitcli as gitcli
plain = gitcli.run_git
def timed(store, args, **kwargs):
    if args[0] != "fetch":
        return plain(store, args, **kwargs)
    start = children()
    try:
        return plain(store, args, **kwargs)
    finally:
        fetch_cpu[0] += children() - start
gitcli.run_git = timed
def written():
    used = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["COUNT_FETCH_SPLIT"], "w") as out:
        json.dump({"own": used.ru_utime + used.ru_stime, "fetch": fetch_cpu[0]}, out)
atexit.register(written)
from gitruns.cli.entry import main
sys.exit(main())
"""

# gitruns' git fetch (its arguments as raw git's but for this one, -q and a few more) is
# counted by itself; what it starts (upload-pack, pack-objects, index-pack, rev-list: the
# transfer, raw git's either way) is skipped by the instruction count.
FETCH_MARK = "--show-forced-updates"
FETCH_CHILDREN = "index-pack,pack-objects,--objects,git-upload-pack*"
FETCH_CHILD_PROGRAMS = r"index-pack|pack-objects|rev-list|upload-pack"
RAW = "raw git"


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout


def user_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITRUNS_", "GIT_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install has its bytecode
    env["PYTHONPATH"] = str(tree)
    env["PYTHONHASHSEED"] = "0"
    return env


def bare_python(work: Path) -> str:
    venv = work / "venv"
    if not (venv / "bin" / "python").exists():
        sh(work, sys.executable, "-m", "venv", "--without-pip", str(venv))
    return str(venv / "bin" / "python")


def remote_of(work: Path, runs: int, source: Path | None) -> Path:
    """A bare repository with main and the runs of gen_runs' ``runs``-run repository."""
    remote = work / f"remote-{runs}.git"
    if not remote.exists():
        if source is None:
            from gen_runs import generate

            source = Path(generate(runs))
        sh(work, "git", "init", "-q", "--bare", str(remote))
        sh(source, "git", "push", "-q", str(remote), "main", "refs/runs/*:refs/runs/*")
        sh(remote, "git", "symbolic-ref", "HEAD", "refs/heads/main")
    return remote


def fresh_clone(work: Path, remote: Path) -> Path:
    clone = work / "clone"
    if clone.exists():
        settle(clone)
        shutil.rmtree(clone)
    sh(work, "git", "clone", "-q", "--no-local", str(remote), str(clone))
    return clone


def settle(clone: Path) -> None:
    """Wait for the background compaction a fetch may start (it holds repack.lock)."""
    lock = clone / ".git" / "gitruns" / "repack.lock"
    if lock.exists():
        with open(lock, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
    while (clone / ".git" / "packed-refs.lock").exists():
        time.sleep(0.05)


def cpu_round(python: str, tree: Path, clone: Path) -> dict[str, float]:
    out = clone.parent / "split.json"
    env = {**user_env(tree), "COUNT_FETCH_SPLIT": str(out)}
    process = subprocess.Popen(
        [python, "-c", SPLIT, "fetch"], cwd=clone, env=env, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or b"fetched from" not in errors:
        raise SystemExit(f"gitruns fetch failed:\n{errors.decode()}")
    parts = json.loads(out.read_text())
    total = usage.ru_utime + usage.ru_stime
    return {
        "total": total,
        "own": parts["own"],
        "fetch": parts["fetch"],
        "other": total - parts["own"] - parts["fetch"],
        "load": os.getloadavg()[0],
    }


def raw_round(clone: Path) -> dict[str, float]:
    """Raw git's fetch of the same runs, as bench_sharing.py runs it."""
    process = subprocess.Popen(
        ["git", "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*"],
        cwd=clone,
        env=user_env(ROOT),
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("git fetch failed")
    return {"total": usage.ru_utime + usage.ru_stime, "load": os.getloadavg()[0]}


def count_round(python: str, tree: Path, clone: Path) -> dict[str, int]:
    """Instructions by kind of process (see the module's text)."""
    logs = Path(tempfile.mkdtemp(dir=clone.parent, prefix="vg-"))
    sh(
        clone,
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        "--trace-children=yes",
        f"--trace-children-skip-by-arg={FETCH_CHILDREN}",
        f"--log-file={logs}/%p",
        python,
        "-c",
        CONSOLE,
        "fetch",
        env=user_env(tree),
    )
    settle(clone)
    time.sleep(0.2)  # the background job's last log lines
    kinds = dict.fromkeys(("python", "git fetch", "cat-file", "other", "background"), 0)
    root = None
    for log in sorted(logs.iterdir(), key=lambda p: int(p.name)):
        text = log.read_text()
        command = re.search(r"Command: (.*)", text)
        found = re.search(r"I\s+refs:\s+([\d,]+)", text)
        if found is None:
            continue  # replaced by an exec: the new program's log counts it
        refs = int(found.group(1).replace(",", ""))
        line = command.group(1) if command else ""
        if root is None:
            root = line
            kind = "python"
        elif FETCH_MARK in line:
            kind = "git fetch"
        elif "cat-file" in line:
            kind = "cat-file"
        elif not command or (line.startswith("/usr/bin/git") and "pack" in line):
            kind = "background"  # a forked subshell (no exec), pack-refs or repack
        else:
            kind = "other"
        kinds[kind] += refs
    shutil.rmtree(logs)
    return kinds


def syscalls(python: str, tree: Path, work: Path, remote: Path) -> tuple[int, list[str]]:
    """System calls of gitruns' Python process, and the programs it started."""
    summary = work / "strace-c.txt"
    execs = work / "strace-exec.txt"
    clone = fresh_clone(work, remote)
    sh(
        clone,
        "strace",
        "-c",
        "-o",
        str(summary),
        python,
        "-c",
        CONSOLE,
        "fetch",
        env=user_env(tree),
    )
    calls = re.search(
        r"^-+ -+ -+ -+ -+ -+\n\s*100\.00\s+\S+\s+\S+\s+(\d+)", summary.read_text(), re.M
    )
    clone = fresh_clone(work, remote)
    sh(
        clone,
        "strace",
        "-f",
        "-e",
        "trace=execve",
        "-o",
        str(execs),
        python,
        "-c",
        CONSOLE,
        "fetch",
        env=user_env(tree),
    )
    settle(clone)
    started = []
    for line in execs.read_text().splitlines():
        found = re.search(r'execve\("[^"]*", \[(.*?)\]', line)
        if found and "= 0" in line and not re.search(FETCH_CHILD_PROGRAMS, found.group(1)):
            words = re.findall(r'"((?:[^"\\]|\\.)*)"', found.group(1))
            started.append(" ".join(words)[:60])
    return int(calls.group(1)) if calls else -1, started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=ROOT, help="folder holding gitruns/")
    parser.add_argument("--before", help="a commit whose gitruns is measured too")
    parser.add_argument("--count", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--source", type=Path, help="default: gen_runs' repository of --runs")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fetch-fixed")
    args = parser.parse_args()
    from _common import gitruns_at

    trees = {"this": args.tree.resolve()}
    if args.before:
        trees = {"before": gitruns_at(args.before), **trees}
    args.work.mkdir(parents=True, exist_ok=True)
    python = bare_python(args.work)
    for tree in trees.values():
        sh(tree, python, "-m", "compileall", "-q", "gitruns", env=user_env(tree))
    remote = remote_of(args.work, args.runs, args.source)
    print(f"{args.runs:,} runs; trees: {', '.join(f'{k} {v}' for k, v in trees.items())}")
    if args.count:
        for name, tree in trees.items():
            kinds = count_round(python, tree, fresh_clone(args.work, remote))
            fixed = kinds["python"] + kinds["other"]
            print(
                f"instructions {name}: python {kinds['python']:,}, git fetch (alone) "
                f"{kinds['git fetch']:,}, cat-file {kinds['cat-file']:,}, other waited "
                f"{kinds['other']:,}, background {kinds['background']:,}; python + other "
                f"{fixed:,}"
            )
    for name, tree in trees.items():
        calls, started = syscalls(python, tree, args.work, remote)
        print(f"syscalls {name}: {calls:,} in gitruns' Python; it started {started[1:]}")
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in [*trees, RAW]}
    for index in range(args.rounds):
        order = [*trees, RAW] if index % 2 == 0 else [RAW, *reversed(trees)]
        for name in order:
            clone = fresh_clone(args.work, remote)
            measure = raw_round(clone) if name == RAW else cpu_round(python, trees[name], clone)
            samples[name].append(measure)
    raw = statistics.median(r["total"] for r in samples.pop(RAW))
    print(f"cpu {RAW}: total {raw:.3f} s (median; `git fetch -q`, gitruns' refspec)")
    for name, rounds in samples.items():
        med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        loads = [r["load"] for r in rounds]
        print(
            f"cpu {name} (median of {len(rounds)}, load {min(loads):.1f}-{max(loads):.1f}): "
            f"total {med['total']:.3f} s, python {med['own']:.3f} s, git fetch "
            f"{med['fetch']:.3f} s, other git {med['other']:.3f} s; python + other "
            f"{statistics.median(r['own'] + r['other'] for r in rounds):.3f} s; "
            f"{med['total'] / raw:.2f}x raw git"
        )
    settle(args.work / "clone")


if __name__ == "__main__":
    main()
