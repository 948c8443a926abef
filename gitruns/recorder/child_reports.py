"""The recorder's side of the child-side hook (``gitruns/_sitehook``): the environment that
puts it in a Python child, and the reports the child leaves behind.

The child reports in a folder of the run's staging folder; ``record`` reads it once the
command has exited. Reports are untrusted input: size-capped, and anything malformed is
skipped with a warning rather than allowed to fail the recording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CAPTURE_FOLDER = "child-reports"
CAPTURE_DIR_VARIABLE = "GITRUNS_CAPTURE_DIR"
ORIGINAL_PYTHONPATH_VARIABLE = "GITRUNS_ORIGINAL_PYTHONPATH"
AUTOLOG_VARIABLE = "GITRUNS_AUTOLOG"  # "1": the child calls gitruns.autolog() at start-up
NO_ARG_CAPTURE_VARIABLE = "GITRUNS_NO_ARG_CAPTURE"  # "1": the hook is there for autolog only
MAX_REPORT_BYTES = 16 * 1024 * 1024
# Found by path, not imported: the hook sits above the recorder (it may call the child's
# gitruns.autolog), see docs/design.md.
HOOK_DIR = Path(__file__).resolve().parents[1] / "_sitehook"


class ChildReports:
    """What the child reported: each is None (or empty) when it did not happen."""

    # a plain class: no `dataclasses` (and `inspect`) on record's path (recorder.RecordOptions)
    __slots__ = ("argparse", "click", "errors", "hydra_jobs", "hydra_run", "hydra_sweep")

    def __init__(self) -> None:
        self.argparse: dict[str, Any] | None = None
        self.click: dict[str, Any] | None = None
        self.hydra_run: dict[str, Any] | None = None  # the one job of a plain Hydra run
        self.hydra_sweep: dict[str, Any] | None = None
        self.hydra_jobs: list[dict[str, Any]] = []
        self.errors: list[str] = []

    @property
    def parsed_arguments(self) -> bool:
        """Did the program report its own arguments (so argv need not be guessed)?"""
        return bool(self.argparse or self.click or self.hydra_run or self.hydra_jobs)


def hook_environment(
    run_dir: Path, env: Mapping[str, str], *, capture_args: bool = True, autolog: bool = False
) -> dict[str, str]:
    """``env`` with the hook first on PYTHONPATH and its report folder named; the hook
    puts PYTHONPATH back as it was before the program runs. ``autolog``: the child calls
    ``gitruns.autolog()`` at start-up; without ``capture_args`` it reports no arguments."""
    reports = (run_dir / CAPTURE_FOLDER).absolute()  # the child may change directory
    reports.mkdir(exist_ok=True)
    hooked = dict(env)
    original = env.get("PYTHONPATH")
    if original is not None:
        hooked[ORIGINAL_PYTHONPATH_VARIABLE] = original
    hooked["PYTHONPATH"] = str(HOOK_DIR) + (os.pathsep + original if original else "")
    hooked[CAPTURE_DIR_VARIABLE] = str(reports)
    if autolog:
        hooked[AUTOLOG_VARIABLE] = "1"
    if not capture_args:
        hooked[NO_ARG_CAPTURE_VARIABLE] = "1"
    return hooked


def read_reports(run_dir: Path) -> ChildReports:
    folder = run_dir / CAPTURE_FOLDER
    reports = ChildReports()
    if not folder.is_dir():
        return reports
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file():
            continue  # a report being written when the child was killed
        if name == "errors.jsonl":
            reports.errors += _error_lines(path)
            continue
        data = _load(path, reports.errors)
        if data is None:
            continue
        if name == "argparse.json":
            reports.argparse = _mapping(data.get("params"))
        elif name == "click.json":
            reports.click = _mapping(data.get("params"))
        elif name == "hydra-run.json":
            reports.hydra_run = data
        elif name == "hydra-sweep.json":
            reports.hydra_sweep = data
        elif name.startswith("hydra-job-"):
            reports.hydra_jobs.append(data)
    return reports


def _load(path: Path, errors: list[str]) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            errors.append(f"{path.name} is over {MAX_REPORT_BYTES} bytes; not read")
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        errors.append(f"{path.name} could not be read ({exc})")
        return None
    return data if isinstance(data, dict) else None


def _mapping(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _error_lines(path: Path) -> list[str]:
    found = []
    try:
        raw = path.read_bytes()[:MAX_REPORT_BYTES]
    except OSError:
        return []
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
            found.append(f"{entry['what']}: {entry['error']}")
        except (ValueError, KeyError, TypeError):
            continue
    return found
