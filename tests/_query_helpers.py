"""Helpers for the query tests (issue 4A): cache rows without git, runs in real repos."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitruns.query.cache import CachedRun

COMMIT_A = "a" * 40


def cached_row(
    run_id: str,
    *,
    name: str = "run",
    status: str = "FINISHED",
    start: float = 1_790_000_000.0,
    duration: float | None = 10.0,
    params: dict[str, Any] | None = None,
    metrics: dict[str, list[float]] | None = None,
    tags: dict[str, str] | None = None,
    origin: str = "local",
    code_commit: str | None = COMMIT_A,
    resources: dict[str, Any] | None = None,
    experiment: str | None = None,
) -> CachedRun:
    """A cache row built directly, as the cache would hold it after reading a run."""
    end = start + duration if duration is not None else None
    return CachedRun(
        (
            f"refs/runs/{run_id}",
            "0" * 40,
            run_id,
            origin,
            None,
            name,
            status,
            "Test User",
            "test@example.com",
            "host",
            iso(start),
            start,
            iso(end) if end is not None else None,
            end,
            duration,
            "main",
            code_commit,
            json.dumps(params or {}),
            json.dumps(metrics or {}),
            json.dumps(tags or {}),
            json.dumps(resources or {}),
            json.dumps({"id": run_id, "name": name}),
            experiment,
        )
    )


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_invalid_run(repo: Path, run_id: str, run_yaml: bytes) -> str:
    """A commit on refs/runs/<id> whose run.yaml is ``run_yaml``, made with git plumbing."""
    blob = _git(repo, ["hash-object", "-w", "--stdin"], run_yaml)
    tree = _git(repo, ["mktree"], f"100644 blob {blob}\trun.yaml\n".encode())
    commit = _git(repo, ["commit-tree", tree, "-m", "bad run"], b"")
    _git(repo, ["update-ref", f"refs/runs/{run_id}", commit], b"")
    return commit


def _git(repo: Path, args: list[str], data: bytes) -> str:
    result = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return result.stdout.decode().strip()
