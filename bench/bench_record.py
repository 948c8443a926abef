"""Benchmark: what `gitruns record` adds to a command, against `dvc exp run`, and whether the
recorder's memory stays flat for long, loud jobs.

    python bench/bench_record.py            # writes the `record` section of docs/benchmarks.md
    python bench/bench_record.py --quick    # fewer repetitions, no file written

DVC is taken from the benchmark venv bench/.work/venv (never a gitruns dependency); create it
with `python -m venv bench/.work/venv && bench/.work/venv/bin/pip install dvc mlflow`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / "bench" / ".work" / "venv"
GITRUNS = [sys.executable, "-m", "gitruns"]
PY = sys.executable


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.name", "Bench")
    git(path, "config", "user.email", "bench@example.com")
    (path / "train.py").write_text("pass\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "init")
    return path


def median_seconds(
    cmd: list[str], cwd: Path, repeat: int, env: dict[str, str] | None = None
) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dvc_overhead(parent: Path, repeat: int) -> tuple[float, float] | None:
    """(plain python, dvc exp run) medians in a DVC repo whose only stage runs `python -c pass`."""
    dvc = BENCH_VENV / "bin" / "dvc"
    if not dvc.exists():
        return None
    repo = make_repo(parent, "dvc")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([str(dvc), "init", "-q"], cwd=repo, check=True, env=env)
    (repo / "dvc.yaml").write_text(
        f"stages:\n  train:\n    cmd: {PY} -c pass\n    deps: [train.py]\n"
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "dvc")
    plain = median_seconds([PY, "-c", "pass"], repo, repeat)
    exp = median_seconds([str(dvc), "exp", "run", "-f"], repo, repeat, env)
    return plain, exp


def recorder_peak_rss(repo: Path, seconds: float, megabytes: int) -> tuple[float, float]:
    """Peak RSS (MiB) of the recorder process itself while its child prints ``megabytes`` MiB
    of output over ``seconds`` seconds; and its RSS one second in, for comparison."""
    script = (
        "import sys, time\n"
        f"end = time.time() + {seconds}\n"
        "line = 'x' * 1023 + '\\n'\n"
        f"total = {megabytes} * 1024\n"
        "per = max(total // 200, 1)\n"
        "for _ in range(200):\n"
        "    sys.stdout.write(line * per)\n"
        f"    time.sleep({seconds} / 200)\n"
    )
    proc = subprocess.Popen(
        [*GITRUNS, "record", "--system-interval", "0.5", "--", PY, "-c", script],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    recorder = psutil.Process(proc.pid)
    samples: list[float] = []

    def watch() -> None:
        while proc.poll() is None:
            try:
                samples.append(recorder.memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    proc.wait()
    watcher.join()
    early = samples[min(20, len(samples) - 1)] if samples else 0.0
    return early, max(samples, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        repo = make_repo(parent, "gitruns")
        plain = median_seconds([PY, "-c", "pass"], repo, repeat)
        recorded = median_seconds([*GITRUNS, "record", "--", PY, "-c", "pass"], repo, repeat)
        quiet = median_seconds(
            [*GITRUNS, "record", "--no-system-metrics", "--", PY, "-c", "pass"], repo, repeat
        )
        dvc = dvc_overhead(parent, max(repeat // 3, 2))
        short = recorder_peak_rss(repo, 2, 1)
        long = recorder_peak_rss(repo, 4 if args.quick else 12, 50 if args.quick else 200)
    rows = [
        ("plain `python -c pass`", f"{plain * 1000:.0f} ms", "1.00"),
        (
            "`gitruns record -- python -c pass`",
            f"{recorded * 1000:.0f} ms",
            f"{recorded / plain:.2f}",
        ),
        ("same, `--no-system-metrics`", f"{quiet * 1000:.0f} ms", f"{quiet / plain:.2f}"),
    ]
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {repeat} runs, same run of the script.",
        "",
        "| command | median | vs plain python |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        f"**Overhead of `gitruns record`: {(recorded - plain) * 1000:.0f} ms** "
        f"({(quiet - plain) * 1000:.0f} ms without system metrics); target <= 300 ms.",
    ]
    if dvc is not None:
        dvc_plain, dvc_exp = dvc
        lines.append(
            f"`dvc exp run` of the same `python -c pass` stage: {dvc_exp * 1000:.0f} ms, "
            f"overhead {(dvc_exp - dvc_plain) * 1000:.0f} ms; gitruns' overhead is "
            f"{(recorded - plain) / max(dvc_exp - dvc_plain, 1e-9):.2f}x DVC's."
        )
    else:
        lines.append("DVC not installed in bench/.work/venv: `dvc exp run` not measured.")
    lines += [
        "",
        "Recorder memory (RSS of the `gitruns record` process itself, child output to /dev/null):",
        "",
        "| job | RSS after 1 s | peak RSS |",
        "|---|---|---|",
        f"| 2 s, prints 1 MiB | {short[0]:.0f} MiB | {short[1]:.0f} MiB |",
        f"| {4 if args.quick else 12} s, prints {50 if args.quick else 200} MiB "
        f"| {long[0]:.0f} MiB | {long[1]:.0f} MiB |",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("record", "python bench/bench_record.py", text)


def write_section(
    name: str, command: str, body: str, title: str = "`gitruns record` overhead"
) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{start}\n## {title}\n\nReproduce: `{command}`\n\n{body}\n{end}"
    if start in existing and end in existing:
        before = existing.split(start)[0]
        after = existing.split(end, 1)[1]
        path.write_text(before + section + after)
    else:
        path.write_text(existing.rstrip("\n") + "\n\n" + section + "\n")


if __name__ == "__main__":
    if shutil.which("git") is None:
        sys.exit("git is required")
    main()
