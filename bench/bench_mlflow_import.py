"""What ``import gitruns.mlflow`` costs, next to ``import mlflow``.

Run: ``python bench/bench_mlflow_import.py`` (MLflow from the benchmark venv
``bench/.work/venv`` when it exists, else from this interpreter). Figures go to
docs/benchmarks.md between the ``<!-- bench:mlflow-import -->`` markers:

* wall time: median of fresh interpreters running ``import X`` minus ``python -c pass``;
* ``-X importtime``: the cumulative microseconds Python reports for the module itself.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:mlflow-import -->", "<!-- /bench:mlflow-import -->"
REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))  # fewer for a quick look


def wall_ms(python: str, module: str) -> float:
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - start

    once(f"import {module}")  # warm the file cache and the bytecode
    bare = statistics.median(once("pass") for _ in range(REPEATS))
    loaded = statistics.median(once(f"import {module}") for _ in range(REPEATS))
    return (loaded - bare) * 1000


def importtime_ms(python: str, module: str) -> float:
    """The median over fresh interpreters of ``-X importtime``'s cumulative time."""
    found: list[float] = []
    for _ in range(REPEATS):
        result = subprocess.run(
            [python, "-X", "importtime", "-c", f"import {module}"],
            check=True,
            capture_output=True,
            text=True,
        )
        pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$", re.M)
        match = pattern.search(result.stderr)
        assert match, result.stderr[-2000:]
        found.append(int(match.group(1)) / 1000)
    return statistics.median(found)


def mlflow_python() -> str | None:
    venv = ROOT / "bench" / ".work" / "venv" / "bin" / "python"
    for python in (str(venv), sys.executable):
        if Path(python).exists():
            probe = subprocess.run([python, "-c", "import mlflow"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


def version(python: str) -> str:
    code = "import mlflow; print(mlflow.__version__)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def main() -> None:
    base_wall = wall_ms(sys.executable, "gitruns")
    base_time = importtime_ms(sys.executable, "gitruns")
    ours_wall = wall_ms(sys.executable, "gitruns.mlflow")
    ours_time = importtime_ms(sys.executable, "gitruns.mlflow")
    other = mlflow_python()
    rows = [
        "| module | wall time (median of fresh interpreters) | `-X importtime` cumulative |",
        "|---|---|---|",
        f"| `import gitruns` | {base_wall:.0f} ms | {base_time:.1f} ms |",
        f"| `import gitruns.mlflow` (gitruns included) | {ours_wall:.0f} ms | {ours_time:.1f} ms |",
    ]
    note = "MLflow is not installed here: no comparison row."
    if other is not None:
        theirs_wall = wall_ms(other, "mlflow")
        theirs_time = importtime_ms(other, "mlflow")
        rows.append(
            f"| `import mlflow` {version(other)} | {theirs_wall:.0f} ms "
            f"({theirs_wall / max(ours_wall, 0.1):.0f}x) | {theirs_time:.1f} ms |"
        )
        note = f"MLflow from `{os.path.relpath(other, ROOT)}`."
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            BEGIN,
            "## `import gitruns.mlflow` next to `import mlflow`",
            "",
            "Reproduce with `python bench/bench_mlflow_import.py`.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; measured {now}. {note}",
            "",
            *rows,
            "",
            "`import gitruns.mlflow` loads the name map and the exception classes only; the "
            "API, pygit2 and pandas load on the first call that needs them. Budget: under "
            "50 ms. The machine is shared (2 cores, several processes): the same interpreter "
            "start varies by 3x between rounds, so compare rows of one round; what "
            "`gitruns.mlflow` adds to `import gitruns` is the difference of its two rows.",
            END,
        ]
    )
    text = DOCS.read_text()
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    DOCS.write_text(text)
    print(body)


if __name__ == "__main__":
    main()
