"""Many git objects in one ``git cat-file`` process: the bulk reads of a push or fetch.

Reading a thousand runs' commits or trees one by one through libgit2 costs tens of
microseconds each plus its import; one ``git cat-file --batch`` (objects) or
``--batch-check`` (sizes) per step reads them all in C. Callers pass object names (ids, or
``<commit>:<path>``, ``<commit>^{tree}``) and get answers in the same order; an object
that is not there (or a name that resolves to nothing) answers None.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from gitruns.errors import GitrunsError

_ENTRY = rb"(\d+) ([^\0]*)\0(.{%d})"  # mode, name, raw id of one tree entry
_ENTRY_20 = re.compile(_ENTRY % 20, re.S)


class GitDir(Protocol):
    """What these reads need of a repository (``gitruns.storage.Store`` has it)."""

    @property
    def git_dir(self) -> Path: ...


class BatchError(GitrunsError):
    """``git cat-file`` failed or answered something that is not its batch format."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "check the repository with 'git fsck'")


def read_objects(repo: GitDir, names: Sequence[str]) -> list[tuple[str, str, bytes] | None]:
    """``(id, type, content)`` of each named object, or None when it is missing."""
    out = _cat_file(repo, "--batch", names)
    found: list[tuple[str, str, bytes] | None] = []
    pos = 0
    for _ in names:
        header, pos = _line(out, pos)
        parts = header.split()
        if len(parts) != 3:
            found.append(None)  # "<name> missing", "<name> ambiguous"
            continue
        oid, kind, size_text = parts
        size = int(size_text)
        if pos + size + 1 > len(out):
            raise BatchError("git cat-file --batch stopped short")
        found.append((oid.decode(), kind.decode(), out[pos : pos + size]))
        pos += size + 1  # the content, then a newline
    return found


def object_sizes(repo: GitDir, ids: Sequence[str]) -> list[int | None]:
    """The size in bytes of each object, or None when it is missing."""
    out = _cat_file(repo, "--batch-check=%(objectsize)", ids)
    lines = out.split(b"\n")
    if len(lines) < len(ids):
        raise BatchError("git cat-file --batch-check stopped short")
    return [int(line) if line.isdigit() else None for line in lines[: len(ids)]]


def parse_tree(data: bytes, id_bytes: int) -> list[tuple[bytes, int, str]]:
    """The entries of a raw tree object: (raw name, mode, id in hex). Raises ValueError
    on a malformed tree (crafted input)."""
    pattern = _ENTRY_20 if id_bytes == 20 else re.compile(_ENTRY % id_bytes, re.S)
    found = pattern.findall(data)
    # Every byte must belong to an entry: a tree that is not a sequence of entries is
    # malformed, whatever a lenient match would make of it.
    if sum(len(mode) + len(name) + 2 + id_bytes for mode, name, _ in found) != len(data):
        raise ValueError("malformed tree")
    return [(name, int(mode, 8), raw.hex()) for mode, name, raw in found]


def _cat_file(repo: GitDir, mode: str, names: Sequence[str]) -> bytes:
    if not names:
        return b""
    if any("\n" in name for name in names):
        raise BatchError("an object name holds a newline")
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    process = subprocess.Popen(
        ["git", f"--git-dir={repo.git_dir}", "cat-file", mode, "--buffer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    # The names go in from a thread in one write, the answers come out in large reads:
    # subprocess.run(input=...) would trade 512-byte pieces through select() (thousands of
    # wake-ups for a 10,000-run batch).
    errors: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(process, "\n".join(names) + "\n"))
    drainer = threading.Thread(target=_drain, args=(process, errors))
    feeder.start()
    drainer.start()
    assert process.stdout is not None
    out = process.stdout.read()
    feeder.join()
    drainer.join()
    if process.wait() != 0:
        message = b"".join(errors).decode("utf-8", errors="replace").strip()
        raise BatchError(f"git cat-file failed: {message}")
    return out


def _feed(process: subprocess.Popen[bytes], text: str) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(text.encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # git stopped reading (it failed): its exit status says why


def _drain(process: subprocess.Popen[bytes], errors: list[bytes]) -> None:
    assert process.stderr is not None
    errors.append(process.stderr.read())


def _line(out: bytes, pos: int) -> tuple[bytes, int]:
    end = out.find(b"\n", pos)
    if end < 0:
        raise BatchError("git cat-file --batch stopped short")
    return out[pos:end], end + 1
