"""Benchmark: what a repository of 1k, 10k and 100k runs costs to write to and to keep.

Measures, on repositories under /tmp:

* **create cost vs size**: creating a small run (2 params, 3 metric points, 1 tag, through
  ``gitruns.start_run``) in a repository already holding N runs, with the run refs loose
  (one file each) and packed (``git pack-refs --all``); ms a run, median of batches, in one
  process after a warm-up run, as ``bench_store.py`` measures it at 0 runs;
* **disk per run**: N real small runs written through the API with no ``gc`` by anyone,
  after gitruns' background compaction finished; ``.git`` in bytes allocated on disk
  (``du``) and in apparent bytes, per run, and how many packs and loose refs are left;
* **transfers**: ``gitruns push`` and ``gitruns fetch`` of N runs against raw ``git push``
  and ``git fetch`` of the same refs (``bench_sharing.py`` measures the same at 1k).

Seeded repositories hold one real run and N refs to copies of it (``git update-ref
--stdin``): writing 100,000 real runs takes most of an hour here, and what a new run's
ref costs depends on how many refs there are, not on what they point at.

Other scripts may call these functions for their own tables::

    from bench.bench_write_scale import create_cost, disk_per_run, transfer_cost
    create_cost(10_000, packed=True)     # {"ms_per_run": ..., ...}
    disk_per_run(1000)                   # {"bytes_per_run": ..., ...}
    transfer_cost(1000)                  # {"push_gitruns": s, "push_git": s, ...}

    python bench/bench_write_scale.py                   # 1k/10k/100k, updates docs/benchmarks.md
    python bench/bench_write_scale.py --sizes 1000 --no-docs
    python bench/bench_write_scale.py --parts create    # only some parts (create, disk, transfer)
    python bench/bench_write_scale.py --parts create --create-rounds 5   # more rounds

Figures go to docs/benchmarks.md between the ``<!-- bench:write-scale -->`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / ".work" / "write-scale-results.json"
MARK_BEGIN, MARK_END = "<!-- bench:write-scale -->", "<!-- /bench:write-scale -->"

SMALL_RUN = """
def small_run(gitruns, index):
    with gitruns.start_run(name=f"run-{index}", params={"lr": 0.01, "batch": 32}) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        run.log_metric("acc", 0.9, step=1)
        run.set_tag("model", "mlp")
"""
CREATE_WORKER = (
    SMALL_RUN
    + """
import ctypes, fcntl, json, os, resource, statistics, sys, time
import gitruns
# The background compaction a run starts (git repack, pack-refs) is a grandchild that
# outlives its shell: as a subreaper this process inherits it, so its CPU time is counted
# too (RUSAGE_CHILDREN, once it is reaped below).
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
count, batches = int(sys.argv[1]), 5
small_run(gitruns, -1)  # warm up: imports, schema validators
size = max(count // batches, 1)
per_batch, per_run, before = [], [], resource.getrusage(resource.RUSAGE_SELF)
for first in range(0, count, size):
    start = time.perf_counter()
    for index in range(first, first + size):
        began = time.perf_counter()
        small_run(gitruns, index)
        per_run.append((time.perf_counter() - began) * 1000)
    per_batch.append((time.perf_counter() - start) * 1000 / size)
after = resource.getrusage(resource.RUSAGE_SELF)
user = (after.ru_utime - before.ru_utime) * 1000 / count
system = (after.ru_stime - before.ru_stime) * 1000 / count
with open(os.path.join(".git", "gitruns", "repack.lock"), "ab") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # the last compaction has ended
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
children = resource.getrusage(resource.RUSAGE_CHILDREN)
background = (children.ru_utime + children.ru_stime) * 1000 / count
print(json.dumps({
    "background_cpu_ms_per_run": background,
    "ms_per_run": statistics.median(per_batch),
    "median_run_ms": statistics.median(per_run),
    "cpu_ms_per_run": user + system,
    "user_ms_per_run": user,
    "sys_ms_per_run": system,
}))
"""
)
MAKE_RUNS = (
    SMALL_RUN
    + """
import sys, gitruns
for index in range(int(sys.argv[1])):
    small_run(gitruns, index)
"""
)


def sh(cwd: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}: {result.stderr}")
    return result.stdout


def isolate(home: Path) -> None:
    """Run every git and gitruns call away from the user's config."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    os.environ.update(
        HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig")
    )
    for name in list(os.environ):
        if name.startswith("GITRUNS_"):
            del os.environ[name]


def new_project(path: Path) -> Path:
    sh(path.parent, "git", "init", "-q", str(path))
    (path / "train.py").write_text("print('train')\n")
    sh(path, "git", "add", "train.py")
    sh(path, "git", "commit", "-q", "-m", "initial")
    return path


def seed_refs(project: Path, count: int) -> None:
    """``count`` run refs (UUIDv7-shaped, oldest first) at the commit of one real run."""
    sh(project, sys.executable, "-c", MAKE_RUNS, "1")
    commit = sh(project, "git", "for-each-ref", "--format=%(objectname)", "refs/runs/").split()[0]
    base = int(time.time() * 1000) - count
    lines = []
    for i in range(count - 1):
        raw = (base + i) << 80 | 0x7 << 76 | 0x2 << 62 | i
        lines.append(f"create refs/runs/{uuid.UUID(int=raw)} {commit}\n")
    sh(project, "git", "update-ref", "--stdin", stdin="".join(lines))


def create_cost(
    runs: int, *, packed: bool, count: int = 200, work: Path | None = None, rounds: int = 1
) -> dict:
    """ms to create a small run in a repository of ``runs`` runs, refs loose or packed.

    With ``rounds`` > 1 the worker runs that many times in the same repository (refs
    packed again before each round when ``packed``); the figures are the round of least
    CPU time (the idlest on a shared machine) and the median of the rounds.
    """
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-write-scale-")) if work is None else work
    try:
        project = new_project(work / f"create-{runs}-{'packed' if packed else 'loose'}")
        seed_refs(project, runs)
        samples = [create_round(project, packed, count) for _ in range(rounds)]
        return summarise_rounds(samples, runs, packed)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


# Seconds between a round's set-up and its timed runs, after a sync: see create_round.
SETTLE_S = 61.0


def create_round(project: Path, packed: bool, count: int, settle: float = SETTLE_S) -> dict:
    """One worker process writing ``count`` small runs; the load average it ran under.

    Before the worker starts, the file system is synced and left alone for ``settle``
    seconds: on ext4 without a journal (this VM's) every new file scans the inodes freed
    in its block group in the last 60 s (360 s while their inode table is unwritten), and
    ``pack-refs`` has just freed up to 100,000 (the previous round's compaction some
    hundreds). A user does not create runs in the same second as ``gitruns gc``; the
    deletions of the round's own background compaction still count.
    """
    wait_for_compaction(project)
    if packed:
        sh(project, "git", "pack-refs", "--all")
    if settle > 0:
        os.sync()
        time.sleep(settle)
    loose = sum(1 for _ in (project / ".git" / "refs" / "runs").glob("*"))
    out = json.loads(sh(project, sys.executable, "-c", CREATE_WORKER, str(count)))
    out.update(load=os.getloadavg()[0], loose_refs_before=loose)
    return out


def summarise_rounds(samples: list[dict], runs: int, packed: bool) -> dict:
    best = min(samples, key=lambda s: s["cpu_ms_per_run"])
    return {
        "runs": runs,
        "refs": "packed" if packed else "loose",
        "ms_per_run": best["ms_per_run"],
        "cpu_ms_per_run": best["cpu_ms_per_run"],
        "user_ms_per_run": best.get("user_ms_per_run"),
        "sys_ms_per_run": best.get("sys_ms_per_run"),
        "load": best["load"],
        "best_ms_per_run": min(s["ms_per_run"] for s in samples),
        "median_ms_per_run": statistics.median(s["ms_per_run"] for s in samples),
        "median_cpu_ms_per_run": statistics.median(s["cpu_ms_per_run"] for s in samples),
        "median_sys_ms_per_run": statistics.median(s.get("sys_ms_per_run", 0) for s in samples),
        "background_cpu_ms_per_run": best.get("background_cpu_ms_per_run"),
        "median_background_cpu_ms_per_run": statistics.median(
            s.get("background_cpu_ms_per_run", 0) for s in samples
        ),
        "rounds": samples,
    }


def wait_for_compaction(project: Path, timeout: float = 600.0) -> None:
    """Until no background compaction holds the repack lock."""
    import fcntl

    lock = project / ".git" / "gitruns" / "repack.lock"
    deadline = time.monotonic() + timeout
    while lock.exists() and time.monotonic() < deadline:
        with open(lock, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                time.sleep(0.2)


def git_dir_size(git_dir: Path) -> tuple[int, int]:
    """(bytes allocated on disk, apparent bytes) of a folder, as ``du`` and ``du -b``."""
    allocated = apparent = 0
    for root, _dirs, files in os.walk(git_dir):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            allocated += info.st_blocks * 512
            apparent += info.st_size
    return allocated, apparent


def disk_per_run(runs: int, work: Path | None = None) -> dict:
    """``.git`` per run after ``runs`` real small runs and no gc by anyone."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-write-scale-")) if work is None else work
    try:
        project = new_project(work / f"disk-{runs}")
        empty_alloc, empty_apparent = git_dir_size(project / ".git")
        start = time.perf_counter()
        sh(project, sys.executable, "-c", MAKE_RUNS, str(runs))
        write_s = time.perf_counter() - start
        wait_for_compaction(project)
        alloc, apparent = git_dir_size(project / ".git")
        pack_dir = project / ".git" / "objects" / "pack"
        loose_refs = sum(1 for _ in (project / ".git" / "refs" / "runs").glob("*"))
        loose_objects = sum(
            len(os.listdir(d)) for d in (project / ".git" / "objects").glob("[0-9a-f][0-9a-f]")
        )
        return {
            "runs": runs,
            "bytes_per_run": (alloc - empty_alloc) / runs,
            "apparent_bytes_per_run": (apparent - empty_apparent) / runs,
            "git_dir_bytes": alloc,
            "packs": len(list(pack_dir.glob("*.pack"))),
            "keep_files": len(list(pack_dir.glob("*.keep"))),
            "loose_objects": loose_objects,
            "loose_run_refs": loose_refs,
            "write_s": write_s,
        }
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _timed(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    sh(cwd, *args)
    return time.perf_counter() - start


def transfer_cost(runs: int, rounds: int = 3, work: Path | None = None) -> dict:
    """``gitruns push``/``fetch`` of ``runs`` runs against raw git's of the same refs
    (medians of ``rounds``; local bare remotes; gitruns times include Python start-up)."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-write-scale-")) if work is None else work
    try:
        project = new_project(work / f"transfer-{runs}")
        sh(project, sys.executable, "-c", MAKE_RUNS, str(runs))
        wait_for_compaction(project)
        samples: dict[str, list[float]] = {}
        for index in range(rounds):
            for way in ("gitruns", "git"):
                source = work / f"src-{way}-{index}"
                remote = work / f"remote-{way}-{index}.git"
                shutil.copytree(project, source, symlinks=True)
                sh(work, "git", "init", "-q", "--bare", str(remote))
                sh(source, "git", "remote", "add", "origin", str(remote))
                sh(source, "git", "push", "-q", "origin", "main")
                sh(source, "git", "fetch", "-q", "origin")
                clone = work / f"dst-{way}-{index}"
                sh(work, "git", "clone", "-q", str(remote), str(clone))
                if way == "gitruns":
                    push = _timed(source, sys.executable, "-m", "gitruns", "push")
                    fetch = _timed(clone, sys.executable, "-m", "gitruns", "fetch")
                else:
                    push = _timed(source, "git", "push", "-q", "origin", "refs/runs/*:refs/runs/*")
                    spec = "refs/runs/*:refs/remote-runs/origin/*"
                    fetch = _timed(clone, "git", "fetch", "-q", "origin", spec)
                samples.setdefault(f"push_{way}", []).append(push)
                samples.setdefault(f"fetch_{way}", []).append(fetch)
                for path in (source, remote, clone):
                    shutil.rmtree(path, ignore_errors=True)
        out: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
        out["runs"] = runs
        out["push_ratio"] = out["push_gitruns"] / out["push_git"]
        out["fetch_ratio"] = out["fetch_gitruns"] / out["fetch_git"]
        return out
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def create_table(sizes: list[int], rounds: int, work: Path, settle: float = SETTLE_S) -> list[dict]:
    """Every size, loose and packed, seeded once; the rounds interleaved (round 1 of
    each configuration, then round 2 ...) so a burst of load on the shared machine does
    not fall on one configuration only."""
    projects = {}
    for size in sizes:
        for packed in (False, True):
            project = new_project(work / f"create-{size}-{'packed' if packed else 'loose'}")
            seed_refs(project, size)
            projects[size, packed] = project
    samples: dict[tuple[int, bool], list[dict]] = {key: [] for key in projects}
    for _ in range(rounds):
        for (size, packed), project in projects.items():
            samples[size, packed].append(create_round(project, packed, 200, settle))
            print(size, packed, samples[size, packed][-1], flush=True)
    return [summarise_rounds(samples[key], *key) for key in projects]


CREATE_BLOCK = ("<!-- write-scale:create -->", "<!-- /write-scale:create -->")
OTHER_BLOCK = ("<!-- write-scale:disk-transfer -->", "<!-- /write-scale:disk-transfer -->")


def render_create(rows: list[dict], settle: float = SETTLE_S) -> list[str]:
    load = os.getloadavg()[0]
    lines = [
        f"Create: reproduce: `{' '.join(['python bench/bench_write_scale.py', *sys.argv[1:]])}`"
        f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, git "
        f"{sh(ROOT, 'git', '--version').split()[-1]}, {os.cpu_count()} cores shared with"
        f" other work, load average {load:.1f} at the end).",
        "",
        "Creating a small run (2 params, 3 points, 1 tag; `start_run` in one process "
        "writing 200 runs after a warm-up run; wall: the median of 5 batches of 40 runs; "
        "CPU: user + system time of the process over all 200, from getrusage; background "
        "CPU: that of the compaction the runs started, `git repack` and `pack-refs`, "
        "counted until it ended, a run's share). Each "
        "configuration is measured in rounds, interleaved with the others (round 1 of "
        "each, then round 2 ...). Shown: the round of least CPU time (its wall, CPU, "
        "user and system time and the load average it ran under), the best wall of all "
        "rounds, then the medians of the rounds. Packed rounds follow "
        "`git pack-refs --all`, as after `gitruns gc`; every round starts after a `sync` "
        f"and {settle:g} s of quiet (the freed inodes of the set-up, see "
        "bench_write_scale.create_round); loose refs are what a repository "
        "has before gitruns' background compaction packs them (it does so within the "
        "first round at 10k and 100k: `loose_refs_before` per round in "
        "bench/.work/write-scale-results.json).",
        "",
        "| runs in the repository | refs | ms a run | CPU ms | user | sys | background CPU "
        "| load | best ms | median ms | median CPU ms | median sys | median background "
        "| rounds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:

        def ms(key: str, row: dict = row) -> str:
            value = row.get(key)
            return "-" if value is None else f"{value:.2f}"

        lines.append(
            f"| {row['runs']:,} | {row['refs']} | {ms('ms_per_run')} | {ms('cpu_ms_per_run')} "
            f"| {ms('user_ms_per_run')} | {ms('sys_ms_per_run')} "
            f"| {ms('background_cpu_ms_per_run')} | {row['load']:.1f} "
            f"| {ms('best_ms_per_run')} | {ms('median_ms_per_run')} "
            f"| {ms('median_cpu_ms_per_run')} | {ms('median_sys_ms_per_run')} "
            f"| {ms('median_background_cpu_ms_per_run')} "
            f"| {len(row.get('rounds', [])) or 1} |"
        )
    return lines


def render_other(saved: dict[str, Any]) -> list[str]:
    """The disk and transfer tables, with the command that measured them."""
    load = os.getloadavg()[0]
    command = " ".join(["python bench/bench_write_scale.py", *sys.argv[1:]])
    lines = [
        f"Disk and transfers: reproduce: `{command}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"git {sh(ROOT, 'git', '--version').split()[-1]}, {os.cpu_count()} cores, load average "
        f"{load:.1f} at the end: the machine is shared, so wall times vary by tens of percent).",
        "",
    ]
    if saved.get("disk"):
        lines += [
            "`.git` per run after N small runs written through the API, nobody running gc "
            "(background compaction finished; bytes allocated on disk as `du` counts them, "
            "and apparent bytes):",
            "",
            "| runs | per run on disk | apparent | `.git` | packs | keep files | loose objects "
            "| loose run refs | writing took |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in saved["disk"]:
            lines.append(
                f"| {row['runs']:,} | {row['bytes_per_run'] / 1024:.2f} KiB | "
                f"{row['apparent_bytes_per_run'] / 1024:.2f} KiB | "
                f"{row['git_dir_bytes'] / 2**20:.1f} MiB | {row['packs']} | {row['keep_files']} "
                f"| {row['loose_objects']} | {row['loose_run_refs']} | {row['write_s']:.0f} s |"
            )
        lines.append("")
    if saved.get("transfer"):
        lines += [
            "Push and fetch of N runs, gitruns against raw git of the same refs (local bare "
            "remotes, medians of the rounds given; gitruns includes Python start-up):",
            "",
            "| runs | `gitruns push` | `git push` | ratio "
            "| `gitruns fetch` | `git fetch` | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in saved["transfer"]:
            lines.append(
                f"| {row['runs']:,} | {row['push_gitruns']:.2f} s | {row['push_git']:.2f} s | "
                f"{row['push_ratio']:.2f}x | {row['fetch_gitruns']:.2f} s | "
                f"{row['fetch_git']:.2f} s | {row['fetch_ratio']:.2f}x |"
            )
        lines.append("")
    return lines


def write_docs(blocks: dict[tuple[str, str], list[str]]) -> None:
    """Replace the measured blocks of the section; the rest of it (what the figures say,
    written by hand, and a block not measured this time) stays as it is."""
    text = DOCS.read_text()
    if MARK_BEGIN not in text:
        text = text.rstrip("\n") + f"\n\n{MARK_BEGIN}\n{MARK_END}\n"
    for (begin, end), lines in blocks.items():
        block = "\n".join([begin, *lines, end])
        if begin in text and end in text:
            before, rest = text.split(begin, 1)
            text = before + block + rest.split(end, 1)[1]
        else:  # a new block goes at the end of the section
            before, after = text.split(MARK_END, 1)
            text = before.rstrip("\n") + "\n\n" + block + "\n" + MARK_END + after
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--disk-sizes", default="1000,10000")
    parser.add_argument("--transfer-sizes", default="1000,10000")
    parser.add_argument("--parts", default="create,disk,transfer")
    parser.add_argument("--rounds", type=int, default=3, help="transfer rounds (medians)")
    parser.add_argument(
        "--create-rounds", type=int, default=3, help="create rounds (the idlest is shown)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        help="seconds of quiet after a sync before each create round (0: none)",
    )
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-write-scale-"))
    isolate(work / "home")
    try:
        if "create" in parts:
            saved["create"] = create_table(
                [int(n) for n in args.sizes.split(",")], args.create_rounds, work, args.settle
            )
        if "disk" in parts:
            saved["disk"] = []
            for size in map(int, args.disk_sizes.split(",")):
                saved["disk"].append(disk_per_run(size, work=work))
                print(saved["disk"][-1], flush=True)
        if "transfer" in parts:
            saved["transfer"] = []
            for size in map(int, args.transfer_sizes.split(",")):
                saved["transfer"].append(transfer_cost(size, args.rounds, work=work))
                print(saved["transfer"][-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=1))
    blocks = {}
    if "create" in parts:
        blocks[CREATE_BLOCK] = render_create(saved["create"], args.settle)
    if parts & {"disk", "transfer"}:
        blocks[OTHER_BLOCK] = render_other(saved)
    for lines in blocks.values():
        print("\n".join(lines))
    if not args.no_docs:
        write_docs(blocks)


if __name__ == "__main__":
    main()
