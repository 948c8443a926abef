"""The output a recorded command wrote (``logs/stdout.txt``, ``logs/stderr.txt``), read from
a finished run's tree or, while the run goes on, followed in its staging folder.

A log being written is a capped log (gitruns.recording.capped_log): a head file, then two tail
segments used in turn. ``LogFollower`` reads each part from where it stopped, in order,
and never writes or locks anything. When the run ends, ``rest`` gives what the finished
run's log holds beyond what was already read.
"""

from __future__ import annotations

from pathlib import Path

from gitruns.errors import RunNotFoundError
from gitruns.recording.capped_log import TAIL_SUFFIXES
from gitruns.runs.model import Run

STREAMS = {"stdout": "logs/stdout.txt", "stderr": "logs/stderr.txt"}
MAX_LOG_BYTES = 256 * 1024 * 1024
ANCHOR_BYTES = 4096
SKIPPED = b"\n[... gitruns: output skipped here: it came faster than it was read ...]\n"


def read_log(run: Run, stream: str) -> bytes:
    """The whole captured ``stream`` ("stdout" or "stderr") of a run."""
    data = run.file(STREAMS[stream], MAX_LOG_BYTES)
    if data is None:
        raise RunNotFoundError(
            f"run {run.id} has no captured {stream}",
            "output is captured when a command runs under 'gitruns record -- CMD'",
        )
    return data


def last_lines(data: bytes, count: int) -> bytes:
    """The last ``count`` lines of ``data`` (a last line without a newline counts)."""
    if count <= 0:
        return b""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    start = end
    for _ in range(count):
        start = data.rfind(b"\n", 0, start)
        if start < 0:
            return data
    return data[start + 1 :]


class LogFollower:
    """Reads a capped log of a run in progress as it grows, part by part."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_offset = 0
        self.segment: int | None = None  # the tail segment being read, once past the head
        self.segment_offset = 0
        self.anchor = b""  # the last bytes handed out, to find our place in the final log

    def read_new(self) -> bytes:
        """Everything written since the last call."""
        newest = self._newest()  # before reading the head: past the head, it is complete
        parts: list[bytes] = []
        if self.segment is None:
            data, self.head_offset = _read_from(self.path, self.head_offset)
            parts.append(data)
            if newest is not None:
                older = self._segment_path(newest ^ 1)
                if older.exists():
                    parts.append(_read_from(older, 0)[0])
                self.segment, self.segment_offset = newest, 0
        elif newest is not None and newest != self.segment:
            data, _ = _read_from(self._segment_path(self.segment), self.segment_offset)
            parts.append(data)  # the rest of the segment just finished
            self.segment, self.segment_offset = newest, 0
        if self.segment is not None:
            data, self.segment_offset = _read_from(
                self._segment_path(self.segment), self.segment_offset
            )
            parts.append(data)
        new = b"".join(parts)
        self.anchor = (self.anchor + new)[-ANCHOR_BYTES:]
        return new

    def rest(self, final: bytes) -> bytes:
        """What the finished run's log holds after what was already read."""
        if self.segment is None:
            return final[self.head_offset :]
        if not self.anchor:
            return final
        # The finished log keeps the last part of the output: find where our last bytes
        # are in it (a shorter anchor when the kept tail is smaller than ours).
        for size in (ANCHOR_BYTES, 1024, 256, 64):
            anchor = self.anchor[-size:]
            at = final.rfind(anchor)
            if at >= 0:
                return final[at + len(anchor) :]
        return b""

    def _segment_path(self, index: int) -> Path:
        return self.path.with_name(self.path.name + TAIL_SUFFIXES[index])

    def _newest(self) -> int | None:
        """The segment being written; the current one while that file is being rewritten."""
        try:
            text = self.path.with_name(self.path.name + ".newest").read_text().strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return self.segment
        return int(text) & 1 if text.isdigit() else self.segment


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    """Bytes of ``path`` from ``offset``, and the new offset. A file shorter than the
    offset was reused (a tail segment): it is read from its start, after a marker."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size < offset:
                handle.seek(0)
                data = handle.read()
                return SKIPPED + data, len(data)
            handle.seek(offset)
            data = handle.read(size - offset)
    except FileNotFoundError:
        return b"", offset
    return data, offset + len(data)
