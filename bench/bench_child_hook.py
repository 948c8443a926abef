"""Benchmark: what the child-side hook of `gitruns record` (gitruns/_sitehook) adds to a
Python child's start, and to its first argument parse.

    python bench/bench_child_hook.py          # writes its section of docs/benchmarks.md
    python bench/bench_child_hook.py --quick  # fewer repetitions, no file written

The hook is measured on its own, without the recorder around it: the child gets exactly the
environment `record` gives it (the hook's folder first on PYTHONPATH, a report folder).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitruns.recorder.child_reports import hook_environment  # noqa: E402

PY = sys.executable
PARSE = (
    "import time\n"
    "start = time.perf_counter()\n"
    "import argparse\n"
    "p = argparse.ArgumentParser()\n"
    "p.add_argument('--lr', type=float, default=0.1)\n"
    "p.add_argument('-b', '--batch-size', type=int, default=32)\n"
    "p.parse_args()\n"
    "print(time.perf_counter() - start)\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def paired_medians(
    cmd: list[str], plain: dict[str, str], hooked: dict[str, str], repeat: int
) -> tuple[float, float]:
    """Medians of ``cmd`` without and with the hook, runs interleaved so that load on the
    machine falls on both alike."""
    without, with_hook = [], []
    for _ in range(repeat):
        without.append(timed(cmd, plain))
        with_hook.append(timed(cmd, hooked))
    return statistics.median(without), statistics.median(with_hook)


def parse_seconds(env: dict[str, str]) -> float:
    """Inside the child: from before `import argparse` to the return of `parse_args()`."""
    done = subprocess.run(
        [PY, "-c", PARSE, "--lr", "0.5", "-b", "8"], env=env, capture_output=True, text=True
    )
    return float(done.stdout)


def json_import_seconds(env: dict[str, str]) -> float:
    """Inside a child without the hook: `import json` after argparse (the report needs it)."""
    code = "import argparse, time\ns = time.perf_counter()\nimport json\n"
    code += "print(time.perf_counter() - s)\n"
    done = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True)
    return float(done.stdout)


def sitecustomize_import_us(env: dict[str, str], repeat: int) -> float:
    """Median time to import the hook's sitecustomize, from `python -X importtime`."""
    found = []
    for _ in range(repeat):
        done = subprocess.run(
            [PY, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True
        )
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+sitecustomize$", line)
            if match:
                found.append(int(match.group(1)))
    return statistics.median(found) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 11 if args.quick else 41
    with tempfile.TemporaryDirectory() as tmp:
        plain = {k: v for k, v in os.environ.items() if not k.startswith("GITRUNS_")}
        plain.pop("PYTHONPATH", None)
        # As after `pip install`: modules load from bytecode (written by the warm-up runs).
        plain.pop("PYTHONDONTWRITEBYTECODE", None)
        hooked = hook_environment(Path(tmp), plain)
        for _ in range(2):
            timed([PY, "-c", PARSE, "--lr", "1"], hooked)
        start_plain, start_hooked = paired_medians([PY, "-c", "pass"], plain, hooked, repeat)
        parse_plain = statistics.median(parse_seconds(plain) for _ in range(repeat))
        parse_hooked = statistics.median(parse_seconds(hooked) for _ in range(repeat))
        import_us = sitecustomize_import_us(hooked, repeat)
        json_import = statistics.median(json_import_seconds(plain) for _ in range(repeat))
        # an empty bytecode cache that is never written: compiled from source at every start
        no_cache = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": f"{tmp}/no-cache"}
        no_bytecode_us = sitecustomize_import_us({**hooked, **no_cache}, repeat)
        reported = (Path(tmp) / "child-reports" / "argparse.json").is_file()
    assert reported, "the hooked parse wrote no report"
    rows = [
        ("`python -c pass`, whole process", start_plain, start_hooked),
        (
            "`import argparse` and the first `parse_args()` of `--lr 0.5 -b 8`, timed "
            "inside the child",
            parse_plain,
            parse_hooked,
        ),
    ]
    load = os.getloadavg()[0]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; medians of {repeat} runs each, with and without the "
        f"hook interleaved; load average {load:.1f} at the end (the machine is shared).",
        "",
        "| child | without the hook | with the hook | added |",
        "|---|---|---|---|",
        *[
            f"| {name} | {a * 1000:.1f} ms | {b * 1000:.1f} ms | {(b - a) * 1000:+.1f} ms |"
            for name, a, b in rows
        ],
        "",
        f"Importing the hook's `sitecustomize` itself (`python -X importtime`): "
        f"{import_us / 1000:.2f} ms from bytecode, {no_bytecode_us / 1000:.2f} ms when it "
        "must be compiled at every start (no writable `__pycache__` and "
        "`PYTHONDONTWRITEBYTECODE=1`). It imports nothing at start-up; the capture module is "
        "loaded the first time the program imports argparse, click or Hydra: the second row "
        "includes loading it, wrapping argparse and writing the report, and of that, "
        f"importing `json` for the report (many programs import it anyway) takes "
        f"{json_import * 1000:.1f} ms. Whole-process times "
        "on this shared machine vary by more than the hook costs; the in-process figures "
        "are the hook's cost.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("child-hook", "python bench/bench_child_hook.py", text)


def write_section(name: str, command: str, body: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text()
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    title = "## `gitruns record`: the child-side hook's cost"
    section = f"{start}\n{title}\n\nReproduce: `{command}`\n\n{body}\n{end}"
    if start in existing and end in existing:
        before = existing.split(start)[0]
        after = existing.split(end, 1)[1]
        path.write_text(before + section + after)
    else:
        path.write_text(existing.rstrip("\n") + "\n\n" + section + "\n")


if __name__ == "__main__":
    main()
