"""Benchmark: sharing runs through a git remote, gitruns against raw git (and DVC).

Measures, on this machine and in one go, on repositories under /tmp:

* ``gitruns push`` of N runs (default 1,000) to an empty bare remote, against the raw
  ``git push origin 'refs/runs/*:refs/runs/*'`` of the same refs;
* ``gitruns fetch`` of those runs into a fresh clone (it checks every fetched run), against
  the raw ``git fetch origin 'refs/runs/*:refs/remote-runs/origin/*'``;
* an incremental push of 10 new runs after that, both ways;
* ``dvc exp push`` of experiments, when DVC is installed in the benchmark venv
  (``bench/.work/venv/bin/pip install dvc``; never a gitruns dependency);
* the ref-advertisement cost of a remote holding 1k, 10k and 100k runs: ``git ls-remote``
  time and bytes, a no-op ``git fetch`` of branches and of runs with protocol v2 (prefix
  filtering) and v0, and a push of one new run.

The gitruns figures are the CLI as a user runs it, Python start-up included (shown apart).
Remotes are local paths, so transfer is as fast as it gets: overheads show most there.

    python bench/bench_sharing.py              # full run, updates docs/benchmarks.md
    python bench/bench_sharing.py --quick      # 200 runs, 1k/10k refs: a smoke test
    python bench/bench_sharing.py --no-dvc --no-docs
    python bench/bench_sharing.py --parts push   # re-measure push/fetch only

Figures go to docs/benchmarks.md between the ``<!-- bench:sharing -->`` markers.

``--transfers`` measures instead issue 16's target (push and fetch within 1.3x of raw git
at 1k and 10k runs) and writes the ``<!-- bench:transfers -->`` section: the repositories
of ``bench/gen_runs.py`` (one pack, packed refs), every transfer a whole process with its
wall and CPU time (user + system of the process and every child it waited for), gitruns
and raw git interleaved (the order alternates by round), with and without the pre-push
hook that ``gitruns remote setup`` installs (with the hook, both pay it):

    python bench/bench_sharing.py --transfers                  # 1k (5 rounds), 10k (3)
    python bench/bench_sharing.py --transfers --sizes 1000 --rounds 2 --no-docs
    python bench/bench_sharing.py --transfers --editable   # gitruns as this venv has it

gitruns runs there from a regular install of this worktree (a wheel, as a user's ``pip
install gitruns`` leaves it, in bench/.work/transfers-regular, its dependencies read from
this venv): an editable install (``pip install -e .``) makes every Python of its venv load
setuptools' editable finder first, about 15 ms of CPU a process that no user pays.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_write_scale import wait_for_compaction  # noqa: E402

BENCH_VENV = ROOT / "bench" / ".work" / "venv"
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / ".work" / "sharing-results.json"
MARK_BEGIN, MARK_END = "<!-- bench:sharing -->", "<!-- /bench:sharing -->"
TARGET_RATIO = 1.3
MAKE_RUNS = """
import sys, gitruns
for i in range(int(sys.argv[1])):
    with gitruns.start_run(f"run-{i}", params={"lr": 0.01, "batch": 32}, tags={"m": "mlp"}) as r:
        for step in range(20):
            r.log_metric("loss", 1.0 / (step + 1), step=step)
"""


def sh(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}: {result.stderr}")
    return result


def timed(action: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


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


def gitruns(cwd: Path, *args: str) -> None:
    sh(cwd, sys.executable, "-m", "gitruns", *args)


# -- push and fetch of N runs ------------------------------------------------------------------
def make_project(work: Path, runs: int) -> tuple[Path, Path]:
    """A project with ``runs`` runs on a pushed main, and an empty remote template."""
    empty = work / "empty.git"
    sh(work, "git", "init", "-q", "--bare", str(empty))
    project = work / "project"
    sh(work, "git", "init", "-q", str(project))
    (project / "train.py").write_text("print('train')\n")
    sh(project, "git", "add", "train.py")
    sh(project, "git", "commit", "-q", "-m", "initial")
    sh(project, "git", "push", "-q", str(empty), "main")
    sh(project, sys.executable, "-c", MAKE_RUNS, str(runs))
    return project, empty


def one_round(work: Path, project: Path, empty: Path, index: int) -> dict[str, float]:
    times: dict[str, float] = {}
    clones: dict[str, Path] = {}
    for way in ("gitruns", "git"):
        source = work / f"src-{way}-{index}"
        remote = work / f"remote-{way}-{index}.git"
        shutil.copytree(project, source, symlinks=True)
        shutil.copytree(empty, remote, symlinks=True)
        sh(source, "git", "remote", "add", "origin", str(remote))
        sh(source, "git", "fetch", "-q", "origin")  # knows main is published
        clone = work / f"dst-{way}-{index}"
        sh(work, "git", "clone", "-q", str(remote), str(clone))
        clones[way] = clone
        if way == "gitruns":
            times["push_gitruns"] = timed(gitruns, source, "push")
            times["fetch_gitruns"] = timed(gitruns, clone, "fetch")
        else:
            spec = "refs/runs/*:refs/runs/*"
            times["push_git"] = timed(sh, source, "git", "push", "-q", "origin", spec)
            fetch = "refs/runs/*:refs/remote-runs/origin/*"
            times["fetch_git"] = timed(sh, clone, "git", "fetch", "-q", "origin", fetch)
        sh(source, sys.executable, "-c", MAKE_RUNS, "10")
        if way == "gitruns":
            times["incr_gitruns"] = timed(gitruns, source, "push")
        else:
            spec = "refs/runs/*:refs/runs/*"
            times["incr_git"] = timed(sh, source, "git", "push", "-q", "origin", spec)
    return times


def bench_push_fetch(work: Path, runs: int, rounds: int) -> dict[str, float]:
    project, empty = make_project(work, runs)
    samples = [one_round(work, project, empty, i) for i in range(rounds)]
    result = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    result["startup"] = statistics.median(timed(gitruns, work, "--version") for _ in range(5))
    imports = [sys.executable, "-c", "import gitruns.sharing.push, gitruns.sharing.fetch"]
    result["imports"] = statistics.median(timed(sh, work, *imports) for _ in range(5))
    return result


# -- transfers at 1k and 10k runs, interleaved, wall and CPU (issue 16) -------------------------
# The fetch's tree check alone, in process, over the runs a fetch brought (wall, CPU of the
# process and its git children).
CHECK_ONLY = """
import json, resource, time
from gitruns.runs.untrusted import check_run_refs
from gitruns.sharing.lightrepo import open_for_transfer
from gitruns.sharing.refs import list_refs_with_trees, under
store, prefix = open_for_transfer(), "refs/remote-runs/origin/"
listed, trees = list_refs_with_trees(store, prefix)  # as the fetch lists them
refs = under(listed, prefix)
def children():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
t, c, k = time.perf_counter(), time.process_time(), children()
runs = [(prefix + i, i, commit) for i, commit in refs.items()]
failed = check_run_refs(store, runs, root_trees=trees)
cpu = time.process_time() - c + children() - k
print(json.dumps({"wall": time.perf_counter() - t, "cpu": cpu, "failed": len(failed)}))
"""


# `gitruns ARGS` as `python -m gitruns` runs it, writing at exit to the file $BENCH_SELF_CPU
# the CPU of the Python process alone (not of its git children) and that of the one
# `git push` / `git fetch` (with everything it ran: pack-objects, the remote's side, the
# pre-push hook), timed around gitruns' call of it; the rest is gitruns' other git processes.
GITRUNS_SELF_CPU = """
import atexit, os, resource, sys
transfer = [0.0]
def children():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
def timed(run):
    def wrapper(store, args, **kwargs):
        if args[0] not in ("push", "fetch"):
            return run(store, args, **kwargs)
        start = children()
        try:
            return run(store, args, **kwargs)
        finally:
            transfer[0] += children() - start
    return wrapper
def written():
    used = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_SELF_CPU"], "w") as out:  # no json: its import is CPU too
        out.write(f"{used.ru_utime + used.ru_stime} {transfer[0]}")
atexit.register(written)
import gitruns.sharing.gitcli  # (a push or fetch imports it anyway; they bind run_git later)
gitruns.sharing.gitcli.run_git = timed(gitruns.sharing.gitcli.run_git)
sys.argv = ["gitruns", *sys.argv[1:]]
from gitruns.cli.entry import main
main()
"""


# The Python that runs gitruns in the transfer figures (``regular_python``, or this one
# with --editable).
TRANSFER_PYTHON = sys.executable


def regular_python() -> str | None:
    """The Python of a venv with this worktree installed as a user's ``pip install`` does
    (``_common.regular_install``); None when it cannot be built."""
    from _common import regular_install

    return regular_install(ROOT / "bench" / ".work" / "transfers-regular")


def measured_gitruns(cwd: Path, *args: str) -> tuple[float, float, float, float]:
    """``measured`` of ``gitruns ARGS``, the CPU seconds of its Python process alone and
    those of its one ``git push`` / ``git fetch`` (the rest of its CPU is the other git
    processes it ran)."""
    out = cwd.parent / f".self-cpu-{os.getpid()}"
    wall, cpu = measured(
        cwd, TRANSFER_PYTHON, "-c", GITRUNS_SELF_CPU, *args, env={"BENCH_SELF_CPU": str(out)}
    )
    own, transfer = map(float, out.read_text().split())
    out.unlink()
    return wall, cpu, own, transfer


def measured(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, with every child the process waited for) of
    one whole process; it must succeed."""
    from _common import bench_env

    start = time.perf_counter()
    process = subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**bench_env(), **(env or {})},
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}: {errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def transfer_round(
    work: Path, source: Path, size: int, index: int, hooked: bool
) -> dict[str, tuple[float, float, float]]:
    """Push every run of ``source`` to an empty bare remote and fetch them into a fresh
    clone, with gitruns and with raw git (same refspecs); ``{what: (wall, cpu, load)}``."""
    out: dict[str, tuple[float, float, float]] = {}
    ways = ("gitruns", "git") if index % 2 == 0 else ("git", "gitruns")
    for way in ways:
        tag = f"{way}-{size}-{index}-{'hook' if hooked else 'plain'}"
        remote = work / f"remote-{tag}.git"
        sh(work, "git", "init", "-q", "--bare", str(remote))
        sh(source, "git", "remote", "add", tag, str(remote))
        sh(source, "git", "push", "-q", tag, "main")
        if way == "gitruns":
            wall, cpu, own, sent = measured_gitruns(source, "push", tag)
            push = wall, cpu
            out["push_own"] = (own, own, os.getloadavg()[0])
            out["push_other"] = (cpu - own - sent, cpu - own - sent, os.getloadavg()[0])
        else:
            push = measured(source, "git", "push", "-q", tag, "refs/runs/*:refs/runs/*")
        out[f"push_{way}"] = (*push, os.getloadavg()[0])
        sh(source, "git", "remote", "remove", tag)
        if not hooked:  # the hook is the pushing side's; fetch is measured once
            for kind, local in FETCHES:
                out.update(fetch_round(work, remote, f"{tag}-{kind}", kind, way, local, size))
        shutil.rmtree(remote)
    return out


# The two fetches measured: into a clone made as over a network (``--no-local``: the
# clone holds main's objects only, so the fetch transfers every run's objects), and into
# a plain local clone (``git clone /path`` hardlinks the remote's whole object store, runs
# included, as on a shared file system: the fetch then transfers nothing and writes refs).
FETCHES = (("fetch", False), ("fetch_present", True))


def fetch_round(
    work: Path, remote: Path, tag: str, kind: str, way: str, local: bool, size: int
) -> dict[str, tuple[float, float, float]]:
    """One fetch of every run of ``remote`` into a fresh clone, by gitruns or raw git."""
    out: dict[str, tuple[float, float, float]] = {}
    clone = work / f"clone-{tag}"
    sh(work, "git", "clone", "-q", *([] if local else ["--no-local"]), str(remote), str(clone))
    if way == "gitruns":
        wall, cpu, own, got = measured_gitruns(clone, "fetch")
        fetch = wall, cpu
        out[f"{kind}_own"] = (own, own, os.getloadavg()[0])
        out[f"{kind}_other"] = (cpu - own - got, cpu - own - got, os.getloadavg()[0])
    else:
        spec = "refs/runs/*:refs/remote-runs/origin/*"
        fetch = measured(clone, "git", "fetch", "-q", "origin", spec)
    out[f"{kind}_{way}"] = (*fetch, os.getloadavg()[0])
    if way == "gitruns":
        wait_for_compaction(clone)  # its pack-refs must not overlap what follows
        if not local:
            checked = json.loads(sh(clone, TRANSFER_PYTHON, "-c", CHECK_ONLY).stdout)
            if checked["failed"]:
                raise RuntimeError(f"{checked['failed']} generated runs failed the check")
            out["check_only"] = (checked["wall"], checked["cpu"], os.getloadavg()[0])
    count = sh(clone, "git", "for-each-ref", "refs/remote-runs/origin/").stdout
    if count.count("\n") != size:
        raise RuntimeError(f"{way} fetched {count.count(chr(10))} runs, not {size}")
    shutil.rmtree(clone)
    return out


def bench_transfers(work: Path, sizes: list[int], rounds: int | None) -> list[dict[str, Any]]:
    from _common import compile_gitruns
    from gen_runs import generate

    compile_gitruns()
    rows = []
    for size in sizes:
        plain = generate(size)
        hooked = work / f"hooked-{size}"
        shutil.copytree(plain, hooked, symlinks=True)
        sh(work, "git", "init", "-q", "--bare", str(work / "setup.git"))
        sh(hooked, "git", "remote", "add", "origin", str(work / "setup.git"))
        # installs the pre-push hook, which runs TRANSFER_PYTHON
        sh(hooked, TRANSFER_PYTHON, "-m", "gitruns", "remote", "setup")
        if not (hooked / ".git" / "hooks" / "pre-push").exists():
            raise RuntimeError("gitruns remote setup installed no pre-push hook")
        count = rounds or (5 if size <= 1000 else 3)
        samples: dict[str, list[tuple[float, float, float]]] = {}
        for index in range(count):
            for source, with_hook in ((plain, False), (hooked, True)):
                for key, value in transfer_round(work, source, size, index, with_hook).items():
                    samples.setdefault(f"{key}{'_hook' if with_hook else ''}", []).append(value)
            print(f"{size} runs, round {index + 1}/{count} done", file=sys.stderr, flush=True)
        for _ in range(count):
            start = measured(work, TRANSFER_PYTHON, "-m", "gitruns", "--version")
            samples.setdefault("startup", []).append((*start, os.getloadavg()[0]))
            bare = measured(work, TRANSFER_PYTHON, "-c", "pass")
            samples.setdefault("python", []).append((*bare, os.getloadavg()[0]))
        shutil.rmtree(hooked)
        shutil.rmtree(work / "setup.git")
        row: dict[str, Any] = {"runs": size, "rounds": count}
        for key, values in samples.items():
            row[key] = {
                "wall": statistics.median(v[0] for v in values),
                "cpu": statistics.median(v[1] for v in values),
                "load": [min(v[2] for v in values), max(v[2] for v in values)],
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def render_transfers(rows: list[dict[str, Any]], argv: str, regular: bool) -> str:
    from _common import machine_line

    lines = [
        "## Transfers: gitruns push / fetch against raw git at 1k and 10k runs",
        "",
        f"Reproduce: `python bench/bench_sharing.py --transfers{argv}`. Repositories of"
        " `bench/gen_runs.py` (one pack and packed refs, what `gitruns gc` leaves), local bare"
        " remotes. Every figure is a whole process, median of the rounds; CPU is user +"
        " system of the process and of every child it waited for (git's pack-objects,"
        " receive-pack, index-pack; the `git pack-refs` that gitruns starts in the background"
        " after a fetch is not in it). gitruns and raw git ran interleaved, in alternating"
        " order. Raw git: `git push -q R 'refs/runs/*:refs/runs/*'` and `git fetch -q origin"
        " 'refs/runs/*:refs/remote-runs/origin/*'`; gitruns: `gitruns push R`, `gitruns"
        " fetch` (which checks every fetched run's tree). With the hook: the source"
        " repository has the pre-push hook of `gitruns remote setup`, which both pushes run"
        " (no run has artifacts: it uploads nothing). Fetches go into a fresh clone of the"
        " remote made two ways: `git clone --no-local` holds main's objects only, so the"
        " fetch transfers every run's objects as from any remote host (the target's"
        " figure); a plain `git clone /path` hardlinks the remote's whole object store, runs"
        " included (as on a shared file system), so that fetch transfers nothing: git checks"
        " the objects are all there and writes the refs, and gitruns adds its tree check.",
        "",
        (
            "gitruns ran from a regular install of the worktree (a wheel, as `pip install"
            " gitruns` leaves it); an editable install (`pip install -e .`) adds setuptools'"
            " editable finder to the start of every Python of its venv (`--editable`"
            " measures that)."
            if regular
            else "gitruns ran from this venv's install"
            + (" (editable, `--editable`)." if "--editable" in argv else ".")
        ),
        "",
        machine_line(),
        "",
        "| runs | what | gitruns wall | raw git wall | wall ratio | gitruns CPU | raw git CPU"
        " | CPU ratio | of gitruns' CPU: Python / its git processes (all but the push or"
        " fetch itself) | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = (  # (sample key, hook suffix, row label, name in the verdict)
        ("push", "", "push to an empty remote", "push"),
        ("push", "_hook", "push, pre-push hook installed", "push with the hook"),
        ("fetch", "", "fetch into a fresh clone (objects transferred)", "fetch"),
        (
            "fetch_present",
            "",
            "fetch into a local clone that holds the objects already",
            "fetch of objects already present",
        ),
    )
    for row in rows:
        for key, suffix, label, _ in names:
            ours, theirs = row.get(f"{key}_gitruns{suffix}"), row.get(f"{key}_git{suffix}")
            if not ours or not theirs:
                continue
            low = min(ours["load"][0], theirs["load"][0])
            high = max(ours["load"][1], theirs["load"][1])
            own, other = row.get(f"{key}_own{suffix}"), row.get(f"{key}_other{suffix}")
            split = (
                f"{own['cpu']:.2f} s / {ours['cpu'] - own['cpu']:.2f} s" if own else "not measured"
            )
            if own and other:
                split += f" ({other['cpu']:.3f} s)"
            lines.append(
                f"| {row['runs']:,} | {label} | {ours['wall']:.2f} s | {theirs['wall']:.2f} s"
                f" | {ours['wall'] / theirs['wall']:.2f}x | {ours['cpu']:.2f} s"
                f" | {theirs['cpu']:.2f} s | {ours['cpu'] / theirs['cpu']:.2f}x | {split}"
                f" | {low:.1f}-{high:.1f} |"
            )
    within, over = [], []
    for row in rows:
        for key, suffix, _, text in names:
            ours, theirs = row.get(f"{key}_gitruns{suffix}"), row.get(f"{key}_git{suffix}")
            if ours and theirs:
                ratio = ours["cpu"] / theirs["cpu"]
                (within if ratio <= TARGET_RATIO else over).append(
                    f"{text} at {row['runs']:,} ({ratio:.2f}x)"
                )
    verdict = (
        f" By CPU time, within the target: {', '.join(within) or 'none'}; over it:"
        f" {', '.join(over) or 'none'}."
    )
    own = [
        f"{row['runs']:,} runs {row[f'{key}_gitruns']['cpu'] - row[f'{key}_git']['cpu']:.2f} s"
        f"{'' if key == 'fetch' else ' (objects already present)'}"
        for row in rows
        for key, _ in FETCHES
        if row.get(f"{key}_gitruns") and row.get(f"{key}_git")
    ]
    if own:
        verdict += (
            " What a fetch costs over raw git (gitruns' CPU minus raw git's, medians): "
            + ", ".join(own)
            + "; raw git's own figure swings most with the machine's load (its system time"
            " writing a loose ref file a run), which moves the ratio more than gitruns does."
        )
    parts = []
    for row in rows:
        check, start, bare = row.get("check_only"), row.get("startup"), row.get("python")
        if check and start:
            parts.append(
                f"at {row['runs']:,} runs the fetch's tree check alone (in process) took"
                f" {check['wall']:.2f} s wall, {check['cpu']:.2f} s CPU, and `gitruns --version`"
                f" (Python, click, the command table) {start['cpu'] * 1000:.0f} ms CPU"
                + (f" (`python -c pass` {bare['cpu'] * 1000:.0f} ms)" if bare else "")
            )
    lines += [
        "",
        f"Target (issue 16): within {TARGET_RATIO}x of raw git at 1k and 10k runs, both ways."
        + verdict
        + " Wall times on this shared machine swing by tens of percent from round to round;"
        " the CPU columns are steadier. Measured apart in the same run: " + "; ".join(parts) + ".",
        "",
        "What gitruns adds to the one `git push` / `git fetch` (see docs/design.md,"
        ' "transfers read objects in bulk" and "transfers near raw git"): a plain `gitruns'
        " push [REMOTE]` runs without click (`cli/push_argv.py`) and runs `git rev-parse`"
        " (find the repository), `git config` (the remote names), the push (raw git's"
        " command: the same glob refspec `refs/runs/*:refs/runs/*`, with `--porcelain`, so"
        " the same pack and the same work on the remote) and ONE `git cat-file"
        " --batch-command` (a process a pass on git < 2.36) for all it reads: the runs'"
        " commits before the push (the code commit under each run: the push refuses runs"
        " whose code is on no branch of the remote) and, after it, what each pushed run's"
        " `artifacts.yaml` is (from the root trees already read; each distinct blob read"
        " once: every run without artifacts shares one) to upload the artifacts of those that"
        " have some. It reads the local runs, the runs last fetched from the remote and its"
        " remote-tracking branches from git's ref files (packed-refs once; `git"
        " for-each-ref` when anything is not plain), and runs `git rev-list` only for code"
        " commits that are not themselves a published branch tip; neither pygit2, YAML nor"
        " dataclasses is loaded."
        " A fetch runs `git rev-parse`, `git config` (the remote names and whether this is a"
        " partial clone, in one listing), the fetch and ONE `git cat-file --batch-command`"
        " for the whole tree check (the runs' commits, two levels of folders, file sizes;"
        " each distinct folder's figures worked out once); it reads the refs under"
        " `refs/remote-runs/<remote>/` before and after the fetch from git's files (loose,"
        " then the sorted `packed-refs`; `git for-each-ref` when anything is not plain), and"
        " the compaction check counts files (`git pack-refs` starts in the background past"
        ' the loose-ref limit). The column "Python / its git processes" splits gitruns\''
        " CPU (medians of each part) into its own Python process and the git processes it"
        " ran, the one `git push` or `git fetch` among them; in brackets, the git processes"
        " other than that one (the CPU of its children while it ran is subtracted: with the"
        " hook, the hook's own `gitruns artifacts pre-push` counts as the push's). What is"
        " left over raw git is Python (start-up, imports, the checks' own work) and those"
        " short git processes; every pushed run still gets the code check and every fetched"
        " run the tree check in full.",
    ]
    return "\n".join(lines)


def main_transfers(args: argparse.Namespace) -> None:
    from _common import write_section

    global TRANSFER_PYTHON
    sizes = [int(x) for x in args.sizes.split(",")]
    regular = None if args.editable else regular_python()
    TRANSFER_PYTHON = regular or sys.executable
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-transfers-"))
    isolate(work / "home")
    try:
        rows = bench_transfers(work, sizes, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    argv = "" if args.sizes == "1000,10000" else f" --sizes {args.sizes}"
    argv += f" --rounds {args.rounds}" if args.rounds else ""
    argv += " --editable" if args.editable else ""
    text = render_transfers(rows, argv, regular is not None)
    print(text)
    if not args.no_docs:
        write_section("transfers", text)


# -- DVC -------------------------------------------------------------------------------------
def bench_dvc(work: Path, experiments: int) -> dict[str, float] | None:
    dvc = BENCH_VENV / "bin" / "dvc"
    if not dvc.exists():
        return None
    remote = work / "dvc-remote.git"
    sh(work, "git", "init", "-q", "--bare", str(remote))
    project = work / "dvc-project"
    sh(work, "git", "init", "-q", str(project))
    (project / "train.py").write_text("print('train')\n")
    sh(project, "git", "add", "train.py")
    sh(project, "git", "commit", "-q", "-m", "initial")
    sh(project, str(dvc), "init", "-q")
    sh(project, "git", "commit", "-q", "-m", "dvc init")
    sh(project, "git", "remote", "add", "origin", str(remote))
    sh(project, "git", "push", "-q", "origin", "main")
    start = time.perf_counter()
    for i in range(experiments):
        (project / "params.yaml").write_text(f"lr: {0.001 * (i + 1)}\n")
        sh(project, str(dvc), "exp", "save", "-q", "--force", "-n", f"exp-{i}")
    save_s = time.perf_counter() - start
    push_s = timed(sh, project, str(dvc), "exp", "push", "origin", "--all-commits")
    count = int(sh(remote, "git", "for-each-ref", "refs/exps").stdout.count("\n"))
    return {"experiments": experiments, "save_s": save_s, "push_s": push_s, "pushed": count}


# -- ref advertisement -----------------------------------------------------------------------
def ref_cost(work: Path, refs: int) -> dict[str, float]:
    """What a remote holding ``refs`` runs costs every clone that talks to it."""
    base = work / f"refs-{refs}"
    base.mkdir()
    seed = base / "seed"
    sh(base, "git", "init", "-q", str(seed))
    commits = []
    for i in range(4):
        (seed / "f.txt").write_text(f"{i}\n")
        sh(seed, "git", "add", "f.txt")
        sh(seed, "git", "commit", "-q", "-m", f"c{i}")
        commits.append(sh(seed, "git", "rev-parse", "HEAD").stdout.strip())
    remote = base / "remote.git"
    sh(base, "git", "clone", "-q", "--bare", str(seed), str(remote))
    lines = "".join(
        f"create refs/runs/{uuid.UUID(int=i + 1)} {commits[i % 4]}\n" for i in range(refs)
    )
    subprocess.run(["git", "update-ref", "--stdin"], cwd=remote, input=lines, text=True, check=True)
    sh(remote, "git", "pack-refs", "--all")
    url = f"file://{remote}"
    dev = base / "dev"
    sh(base, "git", "clone", "-q", url, str(dev))
    runs = base / "runs"
    sh(base, "git", "clone", "-q", url, str(runs))
    spec = "refs/runs/*:refs/remote-runs/origin/*"
    sh(runs, "git", "fetch", "-q", "origin", spec)
    out: dict[str, float] = {"refs": refs}
    listing = sh(base, "git", "ls-remote", url).stdout
    out["ls_remote_bytes"] = len(listing.encode())
    out["ls_remote_s"] = _median(sh, base, "git", "ls-remote", url)
    # As fetched, the clone holds one loose ref file a run; `gitruns gc` / `git gc` pack them.
    out["fetch_runs_loose_s"] = _median(sh, runs, "git", "fetch", "-q", "origin", spec)
    sh(runs, "git", "pack-refs", "--all")
    for version in ("2", "0"):
        proto = f"protocol.version={version}"
        out[f"fetch_branches_v{version}_s"] = _median(
            sh, dev, "git", "-c", proto, "fetch", "-q", "origin"
        )
        out[f"fetch_runs_v{version}_s"] = _median(
            sh, runs, "git", "-c", proto, "fetch", "-q", "origin", spec
        )
    head = sh(dev, "git", "rev-parse", "HEAD").stdout.strip()
    pushes = []
    for i in range(3):
        name = f"refs/runs/{uuid.UUID(int=10**9 + i)}"
        sh(dev, "git", "update-ref", name, head)
        pushes.append(timed(sh, dev, "git", "push", "-q", "origin", f"{name}:{name}"))
    out["push_one_s"] = statistics.median(pushes)
    shutil.rmtree(base, ignore_errors=True)
    return out


def _median(action: Callable[..., Any], *args: Any) -> float:
    return statistics.median(timed(action, *args) for _ in range(3))


# -- report ----------------------------------------------------------------------------------
def render(
    args: argparse.Namespace,
    pf: dict[str, float],
    dvc: dict[str, float] | None,
    costs: list[dict[str, float]],
) -> str:
    def ratio(a: str, b: str) -> str:
        value = pf[a] / pf[b]
        verdict = "within" if value <= TARGET_RATIO else "over"
        return f"{value:.2f}x ({verdict} the {TARGET_RATIO}x target)"

    lines = [
        MARK_BEGIN,
        "## sharing",
        "",
        f"Reproduce: `python bench/bench_sharing.py{' --quick' if args.quick else ''}` "
        f"({time.strftime('%Y-%m-%d')}, git {_git_version()}, {os.cpu_count()} cores, "
        "local bare remotes; medians of "
        f"{args.rounds} rounds; gitruns times are the CLI including Python start-up of "
        f"{pf['startup'] * 1000:.0f} ms).",
        "",
        "| what | gitruns | raw git, same refspec | ratio |",
        "|---|---|---|---|",
        f"| push {args.runs} runs to an empty remote | {pf['push_gitruns']:.2f} s | "
        f"{pf['push_git']:.2f} s | {ratio('push_gitruns', 'push_git')} |",
        f"| fetch {args.runs} runs into a fresh clone (gitruns checks each) | "
        f"{pf['fetch_gitruns']:.2f} s | {pf['fetch_git']:.2f} s | "
        f"{ratio('fetch_gitruns', 'fetch_git')} |",
        f"| then push 10 new runs | {pf['incr_gitruns']:.2f} s | {pf['incr_git']:.2f} s | "
        f"{ratio('incr_gitruns', 'incr_git')} |",
        "",
        f"Where the gap comes from: starting Python and importing what push and fetch need "
        f"(pygit2 above all) takes {pf.get('imports', float('nan')) * 1000:.0f} ms before any "
        "work, a fixed cost that dominates small transfers (the 10-run push). gitruns' own "
        "work in a push of 1,000 runs (one `git for-each-ref`, the code-commit check of each "
        "run, parsing `--porcelain`) profiles at about 60 ms; a fetch adds the tree check of "
        "every fetched run (about 0.13 ms a run). git's own transfer is the rest, and it "
        "varies by tens of percent between rounds on this shared 2-core machine.",
        "",
    ]
    if dvc:
        lines.append(
            f"DVC, measured by this script on this machine: `dvc exp push origin --all-commits` of "
            f"{dvc['experiments']:.0f} experiments (made with `dvc exp save`, "
            f"{dvc['save_s']:.1f} s in all) took {dvc['push_s']:.2f} s; gitruns pushed "
            f"{args.runs} runs in {pf['push_gitruns']:.2f} s "
            f"({dvc['push_s'] / dvc['experiments'] * 1000:.1f} vs "
            f"{pf['push_gitruns'] / args.runs * 1000:.2f} ms an item). The issue quotes "
            "6.5 s for 500 experiments (13 ms each) on this machine, not re-measured here: "
            "`dvc exp save` takes about 2.4 s an experiment, so the bench makes 100."
        )
    else:
        lines.append(
            "DVC: not measured here (not installed in bench/.work/venv). For reference only, "
            "not measured in this run: the issue quotes `dvc exp push` of 500 experiments "
            "at 6.5 s on this machine (13 ms an experiment)."
        )
    lines += [
        "",
        "Ref advertisement: what a remote holding many runs costs each clone "
        "(refs packed, `file://` transport, medians of 3):",
        "",
        "| runs on the remote | ls-remote | ls-remote bytes | no-op fetch of branches v2 / v0 "
        "| no-op fetch of runs v2 / v0 (clone's refs packed) | same, refs loose | "
        "push one new run |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in costs:
        lines.append(
            f"| {c['refs']:,.0f} | {c['ls_remote_s'] * 1000:.0f} ms | "
            f"{c['ls_remote_bytes'] / 1024:,.0f} KiB | "
            f"{c['fetch_branches_v2_s'] * 1000:.0f} / {c['fetch_branches_v0_s'] * 1000:.0f} ms | "
            f"{c['fetch_runs_v2_s'] * 1000:.0f} / {c['fetch_runs_v0_s'] * 1000:.0f} ms | "
            f"{c.get('fetch_runs_loose_s', float('nan')) * 1000:.0f} ms | "
            f"{c['push_one_s'] * 1000:.0f} ms |"
        )
    lines += ["", MARK_END]
    return "\n".join(lines)


def _git_version() -> str:
    return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        _old, tail = rest.split(MARK_END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-dvc", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--parts",
        default="push,dvc,refs",
        help="what to measure now (push, dvc, refs); the others come from the last run's "
        f"{RESULTS.relative_to(ROOT)}",
    )
    parser.add_argument("--transfers", action="store_true", help="issue 16's transfer table")
    parser.add_argument("--sizes", default="1000,10000", help="run counts (--transfers)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (--transfers)")
    parser.add_argument(
        "--editable",
        action="store_true",
        help="run gitruns from this venv (--transfers; default: a regular install of it)",
    )
    args = parser.parse_args()
    if args.transfers:
        main_transfers(args)
        return
    args.runs = 200 if args.quick else 1000
    args.rounds = 1 if args.quick else 3
    parts = set(args.parts.split(",")) - ({"dvc"} if args.no_dvc else set())
    ref_counts = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="gitruns-bench-sharing-"))
    isolate(work / "home")
    try:
        if "push" in parts:
            saved["push"] = bench_push_fetch(work, args.runs, args.rounds)
            print(saved["push"], flush=True)
        if "dvc" in parts:
            saved["dvc"] = bench_dvc(work, 20 if args.quick else 100)
            print(saved["dvc"], flush=True)
        if "refs" in parts:
            saved["refs"] = []
            for count in ref_counts:
                saved["refs"].append(ref_cost(work, count))
                print(saved["refs"][-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=1))
    section = render(args, saved["push"], saved.get("dvc"), saved.get("refs", []))
    print(section)
    if not args.no_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
