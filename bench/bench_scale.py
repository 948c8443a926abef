"""Benchmark: gitruns at 1,000, 10,000 and (with --100k) 100,000 runs in one repository.

    python bench/bench_scale.py            # 1k and 10k; writes docs/benchmarks.md, `scale`
    python bench/bench_scale.py --100k     # also 100k (builds 100,000 runs: an hour or more)
    python bench/bench_scale.py --sizes 1000 --no-write   # a quick look
    python bench/bench_scale.py --fill fast-import --100k   # 100k in minutes, see below

It uses only gitruns' public API (`gitruns.start_run`, `gitruns.search_runs`) and CLI, so it
measures whatever gitruns is installed in this interpreter: re-run it after changing the
storage, the cache or the transfers. One repository grows from size to size; at each size:

* create: ms a small run (2 params, 3 points, 1 tag) while the repository holds that many,
  refs as gitruns leaves them, and again after `gitruns gc` (which packs refs);
* ls: `gitruns ls --format csv` whole process with the cache as it is (warm) and after
  deleting the cache (cold), and `ls --format json` warm;
* search: `gitruns.search_runs(FILTER)` in process, warm;
* push / fetch: `gitruns push` of every run to an empty bare remote and `gitruns fetch` of
  them into a fresh clone, against raw git with the same refspecs;
* disk: the growth of `.git` over the runs written (`du -sb`), as written (no `git gc`),
  once gitruns' background compaction has finished.

``--fill api`` (the default) grows one repository through the API from size to size.
``--fill fast-import`` makes each size in its own repository: all but the last 1,000 runs are
streamed in by ``bench/gen_runs.py`` (git fast-import, one pack and packed refs, what
``gitruns gc`` leaves), the last 1,000 are written through the API as above and the disk
figure is their growth; every other figure is measured the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_env, compile_gitruns, git, machine_line, write_section
from bench_write_scale import wait_for_compaction

PY = sys.executable
FILTER = "metrics.acc > 0.9 and params.lr = 0.01"

# Writes runs number START.. START+COUNT-1 through the public API; prints ms a run of each
# of BATCHES equal batches (the median resists a busy machine).
MAKE_RUNS = textwrap.dedent(
    """
    import sys, time, gitruns
    start, count, batches = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    size = max(count // batches, 1)
    for b in range(batches):
        t0 = time.perf_counter()
        for i in range(start + b * size, start + (b + 1) * size):
            params = {"lr": (0.01, 0.02, 0.05, 0.1)[i % 4], "batch": 32}
            with gitruns.start_run(name=f"run-{i}", params=params) as run:
                run.log_metric("loss", 1.0 / (1 + i % 97), step=0)
                run.log_metric("loss", 0.5 / (1 + i % 97), step=1)
                run.log_metric("acc", (i % 100) / 100, step=1)
                run.set_tag("team", ("nlp", "vision")[i % 2])
        print((time.perf_counter() - t0) / size * 1000, flush=True)
    """
)
SEARCH = textwrap.dedent(
    f"""
    import time, gitruns
    matches = len(gitruns.search_runs({FILTER!r}))  # warm
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        gitruns.search_runs({FILTER!r})
        times.append(time.perf_counter() - t0)
    print(min(times) * 1000, matches)
    """
)


def sh(cwd: Path, *cmd: str) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=bench_env())
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stderr}")
    return done.stdout


def timed(cwd: Path, *cmd: str) -> float:
    start = time.perf_counter()
    sh(cwd, *cmd)
    return time.perf_counter() - start


def best(cwd: Path, rounds: int, *cmd: str) -> float:
    return min(timed(cwd, *cmd) for _ in range(rounds))


def gitruns(*args: str) -> list[str]:
    return [PY, "-m", "gitruns", *args]


def make_runs(project: Path, start: int, count: int, batches: int) -> float:
    out = sh(project, PY, "-c", MAKE_RUNS, str(start), str(count), str(batches))
    return statistics.median(float(x) for x in out.split())


def disk(path: Path) -> int:
    return int(sh(path, "du", "-sb", str(path)).split()[0])


def cache_file(project: Path) -> Path:
    common = sh(project, "git", "rev-parse", "--git-common-dir").strip()
    return (project / common / "gitruns" / "cache.sqlite").resolve()


def transfers(work: Path, project: Path, size: int) -> dict[str, float]:
    """Push every run to an empty bare remote and fetch them into a fresh clone, with
    gitruns and with raw git (same refspecs); whole processes, one round each."""
    times: dict[str, float] = {}
    for way in ("gitruns", "git"):
        remote = work / f"remote-{way}-{size}.git"
        sh(work, "git", "init", "-q", "--bare", str(remote))
        name = f"{way}{size}"
        sh(project, "git", "remote", "add", name, str(remote))
        sh(project, "git", "push", "-q", name, "main")
        clone = work / f"clone-{way}-{size}"
        if way == "gitruns":
            times["push_gitruns"] = timed(project, *gitruns("push", name))
            sh(work, "git", "clone", "-q", str(remote), str(clone))
            times["fetch_gitruns"] = timed(clone, *gitruns("fetch"))
            wait_for_compaction(clone)  # the fetch's background pack-refs, before rmtree
        else:
            times["push_git"] = timed(project, "git", "push", "-q", name, "refs/runs/*:refs/runs/*")
            sh(work, "git", "clone", "-q", str(remote), str(clone))
            spec = "refs/runs/*:refs/remote-runs/origin/*"
            times["fetch_git"] = timed(clone, "git", "fetch", "-q", "origin", spec)
        sh(project, "git", "remote", "remove", name)
        shutil.rmtree(remote)
        shutil.rmtree(clone)
    return times


API_FILL = 1000  # with --fill fast-import, the runs written through the API at each size


def fast_import_project(work: Path, size: int) -> Path:
    """A repository of ``size - API_FILL`` runs streamed in by gen_runs (fast-import)."""
    import gen_runs

    project = work / f"project-{size}"
    gen_runs.generate(size - API_FILL, repo=project)
    return project


def measure_size(work: Path, project: Path, have: int, size: int) -> dict[str, Any]:
    print(f"building up to {size:,} runs ...", file=sys.stderr, flush=True)
    before = disk(project / ".git")
    make_runs(project, have, size - have, 1)
    wait_for_compaction(project)  # its temporary files are not the runs' size
    per_run_disk = (disk(project / ".git") - before) / (size - have)
    row: dict[str, Any] = {"runs": size, "disk_per_run": per_run_disk}
    sh(project, *gitruns("ls", "--format", "csv"))  # the cache is current
    row["create"] = make_runs(project, size, 50, 5)
    row["ls_warm"] = best(project, 3, *gitruns("ls", "--format", "csv"))
    row["ls_json_warm"] = best(project, 3, *gitruns("ls", "--format", "json"))
    search_ms, matches = sh(project, PY, "-c", SEARCH).split()
    row["search_ms"], row["matches"] = float(search_ms), int(matches)
    cache = cache_file(project)
    cache.unlink(missing_ok=True)
    row["ls_cold"] = timed(project, *gitruns("ls", "--format", "csv"))
    row.update(transfers(work, project, size))
    sh(project, *gitruns("gc"))
    row["create_after_gc"] = make_runs(project, size + 50, 50, 5)
    row["load"] = os.getloadavg()[0]
    print(row, file=sys.stderr, flush=True)
    return row


def render(rows: list[dict[str, Any]]) -> str:
    def s(x: float) -> str:
        return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"

    lines = [
        "## Scale: 1k, 10k, 100k runs in one repository",
        "",
        "Reproduce: `python bench/bench_scale.py --fill fast-import --100k` (about 10 minutes;"
        " without `--100k`, 1k and 10k only; the default `--fill api` writes every run through"
        " the API, an hour or more at 100k). It drives the installed gitruns through its"
        " public API and CLI, so re-running it after a change measures the change.",
        "",
        machine_line(),
        f"Filter: `{FILTER}`. Whole processes unless said; warm figures are the best of 3,"
        " cold and transfers one round (each builds what it measures).",
        "",
        "| runs | create (refs as written) | create after `gitruns gc` | `ls` warm | `ls` cold"
        " | `ls --format json` warm | search, in process | push: gitruns / git | fetch: gitruns"
        " / git | `.git` per run (no gc) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['runs']:,} | {r['create']:.1f} ms | {r['create_after_gc']:.1f} ms"
            f" | {s(r['ls_warm'])} | {s(r['ls_cold'])} | {s(r['ls_json_warm'])}"
            f" | {r['search_ms']:.0f} ms ({r['matches']} matches)"
            f" | {s(r['push_gitruns'])} / {s(r['push_git'])}"
            f" ({r['push_gitruns'] / r['push_git']:.2f}x)"
            f" | {s(r['fetch_gitruns'])} / {s(r['fetch_git'])}"
            f" ({r['fetch_gitruns'] / r['fetch_git']:.2f}x)"
            f" | {r['disk_per_run'] / 1000:.1f} KB |"
        )
    loads = ", ".join(f"{r['runs']:,}: {r['load']:.1f}" for r in rows)
    fill = rows[0].get("fill", "api")
    lines += [
        "",
        (
            f"Each size in its own repository: all but the last {API_FILL:,} runs streamed in"
            " by `bench/gen_runs.py` (git fast-import: one pack, packed refs), the last"
            f" {API_FILL:,} written through the API (the disk column is their growth). "
            if fill == "fast-import"
            else "One repository grows through the API from size to size. "
        )
        + f"Load average when each size finished: {loads}. Create: ms a run, median of 5"
        " batches of 10 runs through `gitruns.start_run` in one process. Targets (issue 16):"
        " create <= 3 ms at every size, loose or packed refs; search at 10k at least 2x"
        " faster than `mlflow.search_runs` on sqlite; `ls --format json` within 1.5x of csv;"
        " cold cache rebuild at 10k under 2 s (100k under 20 s); push and fetch within 1.3x"
        " of raw git; at most 3 KB of `.git` a small run.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated run counts")
    parser.add_argument("--100k", dest="hundred_k", action="store_true", help="add 100,000")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the docs")
    parser.add_argument(
        "--fill",
        choices=("api", "fast-import"),
        default="api",
        help="how each size is reached (see the docstring)",
    )
    args = parser.parse_args()
    sizes = sorted(
        {int(x) for x in args.sizes.split(",")} | ({100_000} if args.hundred_k else set())
    )
    compile_gitruns()
    work = Path(tempfile.mkdtemp(prefix="gitruns-scale-"))
    home = work / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    os.environ.update(
        HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig")
    )
    for name in [n for n in os.environ if n.startswith("GITRUNS_")]:
        del os.environ[name]
    try:
        project = work / "project"
        project.mkdir()
        git(project, "init", "-q", "-b", "main")
        (project / "train.py").write_text("print('train')\n")
        git(project, "add", "train.py")
        git(project, "commit", "-q", "-m", "initial")
        rows, have = [], 0
        for size in sizes:
            if args.fill == "fast-import":
                project, have = fast_import_project(work, size), size - API_FILL
            rows.append(measure_size(work, project, have, size) | {"fill": args.fill})
            have = size + 100  # measuring create adds 100 runs
            text = render(rows)
            if not args.no_write:  # each size as it is done: 100k takes long
                write_section("scale", text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)


if __name__ == "__main__":
    main()
