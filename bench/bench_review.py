"""Benchmark: gitruns review and gitruns check on a repository with many runs on main.

Builds (once, cached under bench/.work/review-repo) a repository whose main has COMMITS
commits with RUNS runs spread over them, and a feature branch of 5 commits with one run
each; then times whole processes with a warm cache (medians):

    python bench/bench_review.py                  # 2,000 runs on 400 commits; update docs
    python bench/bench_review.py --runs 200 --commits 40 --no-docs   # quick

Figures go to docs/benchmarks.md between <!-- bench:review --> markers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
DOCS = ROOT / "docs" / "benchmarks.md"
MARK_BEGIN, MARK_END = "<!-- bench:review -->", "<!-- /bench:review -->"
GATE = "metrics.acc >= baseline.metrics.acc - 0.01"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def build(path: Path, runs: int, commits: int) -> None:
    sys.path.insert(0, str(ROOT))
    import gitruns

    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Bench")
    git(path, "config", "user.email", "bench@example.com")
    per_commit = max(1, runs // commits)
    rnd = random.Random(0)
    made = 0
    for number in range(commits):
        (path / "step.txt").write_text(f"{number}\n")
        git(path, "add", "step.txt")
        git(path, "commit", "-q", "-m", f"step {number}")
        for _ in range(per_commit if made < runs else 0):
            run = gitruns.start_run(
                name=f"main-{made}", params={"lr": rnd.choice([0.1, 0.01])}, repo=path
            )
            run.log_metric("acc", rnd.uniform(0.7, 0.9), step=0)
            run.end()
            gitruns.recording.stack.forget_run(run)
            made += 1
    git(path, "checkout", "-q", "-b", "feature")
    for number in range(5):
        (path / "feature.txt").write_text(f"{number}\n")
        git(path, "add", "feature.txt")
        git(path, "commit", "-q", "-m", f"feature {number}")
        run = gitruns.start_run(name=f"feature-{number}", params={"lr": 0.05}, repo=path)
        run.log_metric("acc", 0.95, step=0)
        run.end()
        gitruns.recording.stack.forget_run(run)


def timed(path: Path, *args: str, repeat: int) -> float:
    command = [sys.executable, "-m", "gitruns", *args]
    subprocess.run(command, cwd=path, capture_output=True, check=False)  # warm the cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=path, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        assert result.returncode in (0, 1), result.stderr
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    path = WORK / f"review-repo-{args.runs}-{args.commits}"
    if not path.exists():
        build(path, args.runs, args.commits)
    rows = [
        ("`gitruns ls` (for scale)", ("ls", "-n", "1")),
        ("`gitruns review --base main`", ("review", "--base", "main")),
        (
            "`gitruns review --base main --baseline 'best metrics.acc'`",
            ("review", "--base", "main", "--baseline", "best metrics.acc"),
        ),
        (f"`gitruns check --base main '{GATE}'`", ("check", "--base", "main", GATE)),
        ("`gitruns check` (the HEAD commit's runs, no base)", ("check", "metrics.acc > 0.9")),
    ]
    lines = [
        "## Review and check: a branch against main",
        "",
        f"Reproduce: `python bench/bench_review.py --runs {args.runs} --commits {args.commits}`"
        " (builds the repository once under bench/.work/; whole processes, warm cache,"
        f" median of {args.repeat}).",
        f"Repository: {args.runs} runs on {args.commits} commits of main, a feature branch of"
        " 5 commits with a run each. Machine: 2 CPUs, shared with other work.",
        "",
        "| command | wall s |",
        "|---|---|",
    ]
    for label, command in rows:
        seconds = timed(path, *command, repeat=args.repeat)
        lines.append(f"| {label} | {seconds:.3f} |")
        print(label, f"{seconds:.3f}")
    lines += [
        "",
        f"Load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine; compare"
        " with the `ls` row rather than with other sections). The base side is found with one"
        " `git rev-list` over the runs' distinct commits, not a merge-base test per run; the"
        " baseline and the five head runs are then read in full.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_docs:
        current = DOCS.read_text()
        block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
        if MARK_BEGIN in current:
            head, rest = current.split(MARK_BEGIN, 1)
            current = head + block + rest.split(MARK_END, 1)[1]
        else:
            current = current.rstrip("\n") + "\n\n" + block + "\n"
        DOCS.write_text(current)


if __name__ == "__main__":
    os.environ.pop("GIT_DIR", None)
    main()
