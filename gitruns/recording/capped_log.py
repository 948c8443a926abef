"""Output logs that keep their head and tail when a job prints too much.

The first ``head_bytes`` go to ``<path>`` as they arrive. Past that, output goes to two
alternating tail segments ``<path>.tail0``/``.tail1`` of at most ``tail_bytes`` each, so the
last ``tail_bytes`` are always on disk however long the job runs, and memory stays flat.
``assemble`` joins head, a visible marker and the tail into ``<path>``: the recorder calls
it at the end, and finalisation calls it for a recorder that died.
"""

from __future__ import annotations

import os
from pathlib import Path

TAIL_SUFFIXES = (".tail0", ".tail1")
MARKER = b"\n[... gitruns: %d bytes of output omitted here; head and tail kept ...]\n"
CRASH_MARKER = b"\n[... gitruns: output omitted here (the recorder died); head and tail kept ...]\n"


class CappedLog:
    def __init__(self, path: Path, head_bytes: int, tail_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.head_bytes = head_bytes
        self.tail_bytes = max(tail_bytes, 1)
        self.total = 0
        self._head_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._tail_fd: int | None = None
        self._tail_index = 0
        self._tail_size = 0

    def write(self, data: bytes) -> None:
        room = self.head_bytes - self.total
        self.total += len(data)
        if room > 0:
            os.write(self._head_fd, data[:room])
            data = data[room:]
        while data:
            if self._tail_fd is None or self._tail_size >= self.tail_bytes:
                self._rotate()
            take = data[: self.tail_bytes - self._tail_size]
            assert self._tail_fd is not None
            os.write(self._tail_fd, take)
            self._tail_size += len(take)
            data = data[len(take) :]

    def _rotate(self) -> None:
        if self._tail_fd is not None:
            os.close(self._tail_fd)
            self._tail_index ^= 1
        segment = self.path.with_name(self.path.name + TAIL_SUFFIXES[self._tail_index])
        self._tail_fd = os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._tail_size = 0
        newest = self.path.with_name(self.path.name + ".newest")
        newest.write_text(str(self._tail_index))

    def close(self) -> None:
        os.close(self._head_fd)
        if self._tail_fd is not None:
            os.close(self._tail_fd)
        assemble(self.path, self.tail_bytes, self.total)


def assemble(path: Path, tail_bytes: int | None = None, total: int | None = None) -> None:
    """Join head, marker and tail into ``path``; remove the tail segments.

    ``total`` is the number of bytes the job wrote, known to a live writer; after a crash
    it is unknown and the marker says so.
    """
    segments = [path.with_name(path.name + s) for s in TAIL_SUFFIXES]
    newest_file = path.with_name(path.name + ".newest")
    present = [s for s in segments if s.exists()]
    if not present:
        newest_file.unlink(missing_ok=True)
        return
    try:
        newest = int(newest_file.read_text().strip() or 0) & 1
    except (OSError, ValueError):
        newest = 0
    ordered = [segments[newest ^ 1], segments[newest]]
    tail = b"".join(s.read_bytes() for s in ordered if s.exists())
    keep = tail_bytes if tail_bytes is not None else max(s.stat().st_size for s in present)
    kept = tail[-keep:]
    head_size = path.stat().st_size if path.exists() else 0
    if total is not None:
        omitted = total - head_size - len(kept)
        marker = MARKER % omitted if omitted > 0 else b""
    else:
        marker = CRASH_MARKER
    with path.open("ab") as handle:
        handle.write(marker + kept)
    for segment in present:
        segment.unlink()
    newest_file.unlink(missing_ok=True)
