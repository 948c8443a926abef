"""Helpers for the trust tests: crafting runs on a bare remote with git plumbing, and
reading what a command writes to a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

from gitruns.format import yamlio


def plumb(
    repo: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        input=data,
        capture_output=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout.decode().strip()


def tree_entries(repo: Path, commit: str) -> list[tuple[str, str, str, str]]:
    entries = []
    for line in plumb(repo, "ls-tree", commit).splitlines():
        meta, name = line.split("\t")
        mode, kind, oid = meta.split()
        entries.append((mode, kind, oid, name))
    return entries


def make_tree(repo: Path, entries: list[tuple[str, str, str, str]]) -> str:
    text = "".join(f"{mode} {kind} {oid}\t{name}\n" for mode, kind, oid, name in entries)
    return plumb(repo, "mktree", data=text.encode())


def with_files(repo: Path, commit: str, files: dict[str, bytes]) -> str:
    """The tree of ``commit`` with top-level ``files`` replaced or added."""
    entries = {e[3]: e for e in tree_entries(repo, commit)}
    for name, data in files.items():
        blob = plumb(repo, "hash-object", "-w", "--stdin", data=data)
        entries[name] = ("100644", "blob", blob, name)
    return make_tree(repo, list(entries.values()))


def run_document(repo: Path, commit: str) -> dict[str, object]:
    document = yamlio.load(plumb(repo, "cat-file", "blob", f"{commit}:run.yaml").encode(), "x")
    assert isinstance(document, dict)
    return document


def commit_tree(
    repo: Path, tree: str, parents: list[str], message: str, when: str | None = None
) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else None
    return plumb(repo, *args, "-m", message, env=env)


def pty_output(cwd: Path, *args: str, timeout: float = 60) -> tuple[int, bytes]:
    """Run ``gitruns ARGS`` with stdout and stderr on a real pseudo-terminal; return its
    exit code and the bytes the terminal received (ONLCR off: ``\\n`` stays ``\\n``)."""
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    env = {**os.environ, "COLUMNS": "200", "LINES": "50"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gitruns", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
    return process.wait(timeout=timeout), b"".join(chunks)
