"""Helpers for the run-store tests (issue 2): repository snapshots, child processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

# Put at the top of every child script: the child isolates libgit2 from the user's
# config the same way the autouse fixture does for the test process (HOME is inherited).
CHILD_PRELUDE = """
import os, sys, time
import pygit2
_home = os.environ["HOME"]
_levels = pygit2.enums.ConfigLevel
pygit2.settings.search_path[_levels.GLOBAL] = _home
pygit2.settings.search_path[_levels.XDG] = os.path.join(_home, ".config")
pygit2.settings.search_path[_levels.SYSTEM] = os.path.join(_home, "nosystem")
import gitruns
"""


def child_script(body: str) -> str:
    return CHILD_PRELUDE + textwrap.dedent(body)


def start_child(cwd: Path, body: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python -c <prelude + body>`` in ``cwd`` with pipes for stdout and stderr."""
    return subprocess.Popen(
        [sys.executable, "-c", child_script(body), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def run_child(cwd: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", child_script(body), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )


def git_bytes(cwd: Path, *args: str) -> bytes:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True)
    return result.stdout


def repo_state(path: Path) -> tuple[bytes, bytes, bytes, bytes]:
    """What a run must never change: status, HEAD, the HEAD file, and the index bytes.

    ``--no-optional-locks`` keeps ``git status`` itself from refreshing the index.
    """
    git_dir = Path(git_bytes(path, "rev-parse", "--absolute-git-dir").decode().strip())
    index = git_dir / "index"
    return (
        git_bytes(path, "--no-optional-locks", "status", "--porcelain=v1", "-z"),
        git_bytes(path, "rev-parse", "HEAD"),
        (git_dir / "HEAD").read_bytes(),
        index.read_bytes() if index.exists() else b"",
    )


def run_refs(path: Path) -> list[str]:
    out = git_bytes(path, "for-each-ref", "--format=%(refname)", "refs/runs/").decode()
    return out.split()


def staging_dirs(path: Path) -> list[str]:
    common = git_bytes(path, "rev-parse", "--git-common-dir").decode().strip()
    root = (path / common / "gitruns" / "staging").resolve()
    return sorted(os.listdir(root)) if root.is_dir() else []


def same_value(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN and int/float/bool types must match."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def wait_for_compaction(repo: Path) -> None:
    """Until the background compaction (which holds the repack lock) has ended."""
    from gitruns.locks import LivenessLock

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lock = LivenessLock.acquire(repo / ".git" / "gitruns" / "repack.lock", create=True)
        if lock is not None:
            lock.release()
            return
        time.sleep(0.05)
    raise AssertionError("the background compaction did not end")
