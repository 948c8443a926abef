"""Instructions a run of a cold build's write side: making a run's row, and writing it.

On this shared 2-CPU machine a build's CPU seconds move by a third with the load, so this
counts instead (valgrind's cachegrind, ``--cache-sim=no``: user-space instructions, the
same whatever the load). One process reads the first ``--runs`` runs of the 10,000-run
repository of ``bench/gen_runs.py`` with ``load_run`` and keeps them; then, by phase:

- ``load``: nothing more;
- ``row``: makes each run's cache row (``cache._valid_row``: the columns, their JSON, the
  record);
- ``write``: makes the rows and writes them as a cold build does (a build file, batches
  of ``BATCH_RUNS`` through ``cache._write``, the indexes made at the end).

The row's figure a run is (row - load) / runs, the write's (write - row) / runs: start-up,
imports and reading the runs cancel out. ``--tree`` counts another tree's gitruns (a folder
holding a ``gitruns`` package, e.g. one ``bench_cache.py --before`` extracted), so that a
change is counted before and after on the same runs::

    python bench/count_cold_write.py                          # this tree, 1,000 runs
    python bench/count_cold_write.py --tree bench/.work/before-<commit> --runs 500

Needs valgrind (``apt-get install valgrind``). Not in docs/benchmarks.md: a tool for
docs/design.md's figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("load", "row", "write")

WORKER = """
import sys, tempfile
from pathlib import Path
phase, runs, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from gitruns.query import cache
from gitruns.query.build_file import connect_for_building
from gitruns.runs.model import load_run
from gitruns.storage import Store, verify_object_hashes

store = Store(repo)
verify_object_hashes(False)  # as a build reads
items = sorted(cache.current_refs(store).items())[:runs]
loaded = [(ref, origin, load_run(store, run_id, commit)) for ref, (run_id, origin, commit) in items]
if phase != "load":
    rows = [cache._valid_row(run, ref, origin) for ref, origin, run in loaded]
    if phase == "write":
        with tempfile.TemporaryDirectory() as folder:
            db = connect_for_building(Path(folder) / "build.sqlite")
            db.executescript(";\\n".join(cache._TABLES_ONLY) + ";")
            for start in range(0, len(rows), cache.BATCH_RUNS):
                batch = rows[start : start + cache.BATCH_RUNS]
                assert len(cache._write(db, batch, [], replace=False)) == len(batch)
            db.executescript(";\\n".join(cache._INDEXES) + ";")
            db.close()
"""


def count(tree: Path, phase: str, runs: int, repo: Path) -> int:
    """User-space instructions of the worker process for ``phase``."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            WORKER,
            phase,
            str(runs),
            str(repo),
        ],
        cwd=tree,  # ``python -c`` puts its folder first on sys.path, before PYTHONPATH
        env={**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the {phase} worker failed:\n{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tree", type=Path, default=ROOT, help="folder holding gitruns/")
    parser.add_argument("--repo", type=Path, default=None, help="default: gen_runs' 10,000")
    args = parser.parse_args()
    repo = args.repo
    if repo is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from gen_runs import generate

        repo = Path(generate(10_000))
    counts = {
        phase: count(args.tree.resolve(), phase, args.runs, repo.resolve()) for phase in PHASES
    }
    row = (counts["row"] - counts["load"]) / args.runs
    write = (counts["write"] - counts["row"]) / args.runs
    print(f"tree {args.tree}, {args.runs} runs of {repo}")
    print(
        f"instructions: load {counts['load']:,}, row {counts['row']:,}, write {counts['write']:,}"
    )
    print(f"a run: row {row:,.0f}, write {write:,.0f}, both {row + write:,.0f}")


if __name__ == "__main__":
    main()
