"""Benchmark: what resource totals and conda capture cost.

    python bench/bench_resources.py          # writes its section of docs/benchmarks.md
    python bench/bench_resources.py --quick  # fewer repetitions, no file written

- one system sample of a tree of 8 processes, without and with the ResourceMeter watching
  it (the meter adds the tree's CPU times, read in the same ``oneshot`` as the rest);
- ``ResourceMeter.totals()`` at the end of a run;
- reading a conda environment of 400 packages (one, like pytorch, listing 20,000 files)
  from ``conda-meta/*.json`` and writing its environment.yml; this runs on the capture
  thread while the command runs, so it delays nothing unless the command ends first.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitruns.capture import conda  # noqa: E402
from gitruns.capture.resources import ResourceMeter  # noqa: E402
from gitruns.capture.system import SystemSampler  # noqa: E402

TREE = """
import subprocess, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
children = [subprocess.Popen(sleeper) for _ in range(7)]
sys.stdout.write("ready\\n"); sys.stdout.flush()
time.sleep(600)
"""


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sample_costs(repeat: int) -> tuple[float, float, float]:
    root = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert root.stdout is not None and root.stdout.readline() == "ready\n"
        plain = SystemSampler(root.pid, 3600, lambda k, v: None)
        plain._open()  # the thread's set-up, without the thread: samples are timed alone
        meter = ResourceMeter(root.pid, 3600)
        watched = SystemSampler(root.pid, 3600, lambda k, v: None, meter)
        watched._open()
        plain.sample_once()  # warm both (psutil caches, first cpu_percent calls)
        watched.sample_once()
        pairs = []
        for i in range(repeat):  # interleaved, first one then the other, so that neither
            if i % 2:  # the machine's load nor the order favours one
                b, a = median_ms(watched.sample_once, 1), median_ms(plain.sample_once, 1)
            else:
                a, b = median_ms(plain.sample_once, 1), median_ms(watched.sample_once, 1)
            pairs.append((a, b))
        without = statistics.median(a for a, _ in pairs)
        with_meter = statistics.median(b for _, b in pairs)
        totals = median_ms(meter.totals, repeat)
        return without, with_meter, totals
    finally:
        for process in __import__("psutil").Process(root.pid).children(recursive=True):
            process.kill()
        root.kill()
        root.wait()


def make_env(prefix: Path, packages: int, big_files: int) -> int:
    """A conda environment of ``packages`` records; returns conda-meta's size in bytes."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    site = "lib/python3.11/site-packages"
    for i in range(packages):
        name = "pytorch" if i == 0 else f"pkg{i:03d}"
        count = big_files if i == 0 else 30 + (i * 37) % 300
        dist = "torch" if i == 0 else name
        files = [f"{site}/{dist}/mod{j}.py" for j in range(count)]
        files.append(f"{site}/{dist}-1.{i}.dist-info/METADATA")
        record = {
            "name": name,
            "version": f"1.{i}",
            "build": f"py311h{i:06x}_0",
            "build_number": 0,
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "subdir": "linux-64",
            "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-1.{i}-py311_0.conda",
            "depends": [f"pkg{(i + k) % packages:03d}" for k in range(1, 6)],
            "files": files,
            "paths_data": {
                "paths": [
                    {"_path": f, "path_type": "hardlink", "sha256": "0" * 64, "size_in_bytes": 1}
                    for f in files
                ],
                "paths_version": 1,
            },
        }
        (meta / f"{name}-1.{i}-py311h{i:06x}_0.json").write_text(json.dumps(record, indent=2))
    return sum(p.stat().st_size for p in meta.iterdir())


def conda_cost(repeat: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "envs" / "big"
        size = make_env(prefix, 400, 20_000)
        pip_list = "".join(f"pkg{i:03d}==1.{i}\n" for i in range(1, 400)) + "wandb==0.17.0\n"

        def capture() -> None:
            environment = conda.read_environment(prefix, pip_list)
            conda.environment_yml(environment)

        return median_ms(capture, repeat), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 5 if args.quick else 25
    without, with_meter, totals = sample_costs(repeat)
    conda_ms, meta_bytes = conda_cost(3 if args.quick else 7)
    cpus = __import__("os").cpu_count()
    lines = [
        f"Machine: {platform.machine()}, {cpus} cores, Python {platform.python_version()};"
        f" medians of {repeat} (conda: of {3 if args.quick else 7}).",
        "",
        "| what | median |",
        "|---|---|",
        f"| one system sample, tree of 8 processes, no GPU | {without:.2f} ms |",
        f"| the same sample watched by the ResourceMeter | {with_meter:.2f} ms |",
        f"| `ResourceMeter.totals()` at the end of a run | {totals:.2f} ms |",
        f"| conda environment of 400 packages ({meta_bytes / 2**20:.1f} MiB of conda-meta, one"
        f" record of 20,000 files) read and environment.yml written | {conda_ms:.0f} ms |",
        "",
        "At the default 10 s interval a sample's cost is noise; the conda read happens on the"
        " capture thread while the command runs.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section("resources", "python bench/bench_resources.py", text)


def write_section(name: str, command: str, body: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text()
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    title = "## Resource totals and conda capture"
    section = f"{start}\n{title}\n\nReproduce: `{command}`\n\n{body}\n{end}"
    if start in existing and end in existing:
        before = existing.split(start)[0]
        after = existing.split(end, 1)[1]
        path.write_text(before + section + after)
    else:
        path.write_text(existing.rstrip("\n") + "\n\n" + section + "\n")


if __name__ == "__main__":
    main()
