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
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from gitruns.errors import GitrunsError

_ENTRY = rb"([0-7]+) ([^\0]*)\0(.{%d})"  # mode, name, raw id of one tree entry
_MODES = {b"100644": 0o100644, b"100755": 0o100755, b"40000": 0o040000}


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
    append, find, pos, end = found.append, out.find, 0, len(out)
    for _ in names:
        stop = find(b"\n", pos)
        if stop < 0:
            raise BatchError("git cat-file --batch stopped short")
        parts = out[pos:stop].split()
        pos = stop + 1
        if len(parts) != 3:
            append(None)  # "<name> missing", "<name> ambiguous"
            continue
        size = int(parts[2])
        if pos + size + 1 > end:
            raise BatchError("git cat-file --batch stopped short")
        append((parts[0].decode(), parts[1].decode(), out[pos : pos + size]))
        pos += size + 1  # the content, then a newline
    return found


def object_sizes(repo: GitDir, ids: Sequence[str]) -> list[int | None]:
    """The size in bytes of each object, or None when it is missing."""
    out = _cat_file(repo, "--batch-check=%(objectsize)", ids)
    lines = out.split(b"\n")
    if len(lines) < len(ids):
        raise BatchError("git cat-file --batch-check stopped short")
    return [int(line) if line.isdigit() else None for line in lines[: len(ids)]]


def read_raw(repo: GitDir, listing: bytes, count: int) -> list[tuple[bytes, bytes, bytes] | None]:
    """``(id, type, content)`` of each of the ``count`` objects named one a line in
    ``listing`` (ids in hex, as bytes: nothing decoded), or None when one is missing. The
    lean form of ``read_objects`` for a fetch's check of thousands of runs."""
    out = _run_cat_file(repo, "--batch", listing, count)
    found: list[tuple[bytes, bytes, bytes] | None] = []
    append, find, pos, end = found.append, out.find, 0, len(out)
    for _ in range(count):
        stop = find(b"\n", pos)
        if stop < 0:
            raise BatchError("git cat-file --batch stopped short")
        parts = out[pos:stop].split(b" ")
        pos = stop + 1
        if len(parts) != 3:
            append(None)  # "<name> missing", "<name> ambiguous"
            continue
        stop = pos + int(parts[2])
        if stop + 1 > end:
            raise BatchError("git cat-file --batch stopped short")
        append((parts[0], parts[1], out[pos:stop]))
        pos = stop + 1  # the content, then a newline
    return found


def raw_sizes(repo: GitDir, listing: bytes, count: int) -> list[int | None]:
    """``object_sizes`` of the ``count`` objects named one a line in ``listing``."""
    lines = _run_cat_file(repo, "--batch-check=%(objectsize)", listing, count).split(b"\n")
    if len(lines) < count:
        raise BatchError("git cat-file --batch-check stopped short")
    del lines[count:]
    try:
        return list(map(int, lines))  # the usual case, in C: every object is there
    except ValueError:
        return [int(line) if line.isdigit() else None for line in lines]


# One answer of ``--batch-check`` (and of ``info`` in ``--batch-command``) for an object
# that is there: "<id> <type> <size>".
_INFO = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) ([a-z]+) ([0-9]+)")


def raw_info(repo: GitDir, listing: bytes, count: int) -> list[tuple[bytes, bytes, int] | None]:
    """``(id, type, size)`` of each of the ``count`` objects named one a line in
    ``listing``, or None when one is missing: what git knows of an object without
    writing its content (a name such as ``<tree>:<path>`` answers the id it resolves to)."""
    out = _run_cat_file(repo, "--batch-check", listing, count)
    return info_answers(out.split(b"\n"), count)


def info_answers(lines: list[bytes], count: int) -> list[tuple[bytes, bytes, int] | None]:
    """The first ``count`` answer ``lines`` of ``--batch-check`` parsed (see ``raw_info``)."""
    if len(lines) < count:
        raise BatchError("git cat-file --batch-check stopped short")
    found: list[tuple[bytes, bytes, int] | None] = []
    for line in lines[:count]:
        match = _INFO.fullmatch(line)
        found.append(None if match is None else (match[1], match[2], int(match[3])))
    return found


def hex_listing(ids: Sequence[bytes], id_bytes: int) -> bytes:
    """Raw object ids (``id_bytes`` each) as the lines of hex that ``cat-file`` reads."""
    if not ids:
        return b""
    return b"".join(ids).hex("\n", id_bytes).encode() + b"\n"


def parse_tree(data: bytes, id_bytes: int) -> list[tuple[bytes, int, str]]:
    """The entries of a raw tree object: (raw name, mode, id in hex). Raises ValueError
    on a malformed tree (crafted input)."""
    whole, entry = _TREE_20 if id_bytes == 20 else _tree_patterns(id_bytes)
    # Every byte must belong to an entry: a tree that is not a sequence of entries is
    # malformed, whatever a lenient match would make of it.
    if whole.fullmatch(data) is None:
        raise ValueError("malformed tree")
    modes = _MODES
    return [
        (name, modes.get(mode) or int(mode, 8), raw.hex())
        for mode, name, raw in entry.findall(data)
    ]


def _tree_patterns(id_bytes: int) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    return re.compile(b"(?:%s)*" % _ENTRY % id_bytes, re.S), re.compile(_ENTRY % id_bytes, re.S)


def _cat_file(repo: GitDir, mode: str, names: Sequence[str]) -> bytes:
    if not names:
        return b""
    if any("\n" in name for name in names):
        raise BatchError("an object name holds a newline")
    return _run_cat_file(repo, mode, ("\n".join(names) + "\n").encode(), len(names))


def _run_cat_file(repo: GitDir, mode: str, listing: bytes, count: int) -> bytes:
    if not count:
        return b""
    if listing.count(b"\n") != count or not listing.endswith(b"\n"):
        raise BatchError("an object name holds a newline")
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    # The names go in from a file and stderr goes to one: no thread to start and wake a
    # pass (a fetch's check makes four), and the answers come out in large reads, where
    # subprocess.run(input=...) would trade 512-byte pieces through select().
    with scratch_file(repo.git_dir) as names, scratch_file(repo.git_dir) as errors:
        names.write(listing)
        names.seek(0)
        done = subprocess.run(
            ["git", f"--git-dir={repo.git_dir}", "cat-file", mode, "--buffer"],
            stdin=names,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", errors="replace").strip()
            raise BatchError(f"git cat-file failed: {message}")
    return done.stdout


def scratch_file(folder: Path) -> BinaryIO:
    """An unnamed file (gone when closed, or when the process dies) in ``folder``, else
    wherever ``tempfile`` says: for what a git process reads or writes in bulk."""
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
    except (AttributeError, OSError):  # not Linux, or a file system without O_TMPFILE
        import tempfile

        return tempfile.TemporaryFile()
    return os.fdopen(fd, "w+b")


_TREE_20 = _tree_patterns(20)
