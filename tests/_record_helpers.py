"""Helpers for tests of ``gitruns record``: run it for real and read the run back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GITRUNS = [sys.executable, "-m", "gitruns"]


def record(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``gitruns record ARGS`` as a real subprocess (stdout/stderr are pipes, not a tty)."""
    return subprocess.run(
        [*GITRUNS, "record", *args],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def only_run(cwd: Path) -> dict[str, Any]:
    """The JSON of the one run in the repository."""
    listing = subprocess.run(
        [*GITRUNS, "ls", "--format", "json"], cwd=cwd, capture_output=True, text=True, check=True
    )
    runs = json.loads(listing.stdout)
    assert len(runs) == 1, runs
    shown = subprocess.run(
        [*GITRUNS, "show", runs[0]["id"], "--format", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(shown.stdout)


def run_file(cwd: Path, run_id: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"refs/runs/{run_id}:{path}"], cwd=cwd, capture_output=True, check=True
    ).stdout


def all_object_bytes(cwd: Path) -> bytes:
    """The content of every object in the repository, loose and packed, concatenated."""
    ids = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    contents = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=cwd,
        input="\n".join(ids).encode() + b"\n",
        capture_output=True,
        check=True,
    ).stdout
    return contents
