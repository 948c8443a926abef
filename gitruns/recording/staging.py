"""Runs in progress, staged under ``<git common dir>/gitruns/staging/<run-id>/``.

The owner process holds ``owner.lock`` for the life of the run; ``start.json`` holds what
was known when the run began; each writing process has a journal folder (see journal.py).
Reading a staging folder back gives everything needed to write the run's commit, whether
the run ended normally or its process died.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gitruns.locks import LivenessLock
from gitruns.recording.journal import CSV_HEADER, MetricSummary
from gitruns.recording.staging_files import (
    DONE_PREFIX,
    EVENTS_FILE,
    FILE_EVENT,
    KEYS_FILE,
    NEW_PREFIX,
    OWNER_LOCK,
    START_FILE,
    SUMMARY_FILE,
    WRITER_LOCK,
    WRITER_PREFIX,
)


# Plain classes: `record` loads this module before its command starts, and `import
# dataclasses` loads `inspect` (`ast`, `dis`, `tokenize`), about 8 ms (recorder.RecordOptions);
# a NamedTuple compiles its annotations (git_probe.ProbedRepo).
class StagedMetric:
    """All files holding one metric key, and their summary when it is known."""

    __slots__ = ("files", "key", "summaries")

    def __init__(self, key: str) -> None:
        self.key = key
        self.files: list[Path] = []
        self.summaries: list[MetricSummary | None] = []


class StagedRun:
    """Everything a staging folder holds, read back in order."""

    __slots__ = ("events", "metrics", "run_id", "start")

    def __init__(
        self,
        run_id: str,
        start: dict[str, Any],
        events: list[dict[str, Any]],
        metrics: dict[str, StagedMetric],
    ) -> None:
        self.run_id = run_id
        self.start = start
        self.events = events
        self.metrics = metrics


class StagingArea:
    """The folder of all runs in progress in one repository."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, run_id: str, start: dict[str, Any]) -> tuple[Path, LivenessLock]:
        """Make the run's folder, take its owner lock, and write its start document.

        The folder is prepared under a hidden name and renamed into place, so a recovery
        scan never sees a run folder whose lock is not yet held.
        """
        document = json.dumps(start, allow_nan=True, sort_keys=True)
        from gitruns.recording import spare

        reused = spare.take(self.root, run_id, document)  # this process's last run's folder
        if reused is not None:
            return reused
        hidden = self.root / f"{NEW_PREFIX}{run_id}"
        hidden.mkdir(parents=True)
        lock = LivenessLock.acquire(hidden / OWNER_LOCK, create=True)
        assert lock is not None  # nobody else knows this new folder yet
        # no temporary file needed: nobody reads the folder before the rename below
        (hidden / START_FILE).write_text(document)
        run_dir = self.root / run_id
        hidden.rename(run_dir)
        lock.path = run_dir / OWNER_LOCK
        return run_dir, lock

    def run_dirs(self) -> Iterator[Path]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                yield Path(entry.path)


def writer_is_alive(writer_dir: Path) -> bool:
    lock = LivenessLock.acquire(writer_dir / WRITER_LOCK, create=False)
    if lock is None:
        return (writer_dir / WRITER_LOCK).exists()
    lock.release()
    return False


def writer_dirs(run_dir: Path) -> list[Path]:
    """The owner's journal (the run folder itself), then each joined writer's, oldest first."""
    names = sorted(name for name in os.listdir(run_dir) if name.startswith(WRITER_PREFIX))
    return [run_dir, *(run_dir / name for name in names)]


def read_staged_run(
    run_dir: Path, owner_summaries: Mapping[str, MetricSummary] | None = None
) -> StagedRun:
    """Read a staging folder; a trailing half-written line in any file is dropped.

    ``owner_summaries`` are the live owner's in-memory summaries (a crashed owner left
    none: its series are then summarised by reading them).
    """
    start = json.loads(read_small_file(run_dir / START_FILE))
    events: list[dict[str, Any]] = []
    metrics: dict[str, StagedMetric] = {}
    for writer_dir in writer_dirs(run_dir):
        events.extend(_read_json_lines(writer_dir / EVENTS_FILE))
        if writer_dir == run_dir:
            summaries = {k: v.to_dict() for k, v in (owner_summaries or {}).items()}
        else:
            summaries = _read_summaries(writer_dir / SUMMARY_FILE)
        for entry in _read_json_lines(writer_dir / KEYS_FILE):
            path = writer_dir / f"m{entry['n']}.csv"
            if not path.exists():
                continue
            truncate_partial_line(path)
            staged = metrics.setdefault(entry["key"], StagedMetric(entry["key"]))
            staged.files.append(path)
            known = summaries.get(entry["key"])
            staged.summaries.append(MetricSummary.from_dict(known) if known else None)
    events.sort(key=lambda e: e.get("ts", 0.0))
    return StagedRun(run_id=run_dir.name, start=start, events=events, metrics=metrics)


def inline_file_event(path: str, data: bytes) -> dict[str, Any]:
    """The journal event that stages ``data`` as the run's file ``path``: one line in the
    events file the writer holds open, where a file of its own (and its folders) would cost
    a new file on disk each, the largest part of a small run's cost."""
    return {"path": path, "text": data.decode("utf-8", errors="surrogateescape")}


def inline_files(events: list[dict[str, Any]]) -> dict[str, bytes]:
    """The files staged in the journal (``inline_file_event``), the last one of a path
    winning; a path that could leave the run's tree is ignored."""
    found: dict[str, bytes] = {}
    for event in events:
        path, text = event.get("path"), event.get("text")
        if event.get("event") != FILE_EVENT or not isinstance(path, str):
            continue
        parts = path.split("/")
        if not isinstance(text, str) or any(p in ("", ".", "..") for p in parts):
            continue
        found[path] = text.encode("utf-8", errors="surrogateescape")
    return found


def read_small_file(path: Path) -> bytes:
    """A whole file through one descriptor: ``Path.read_bytes`` builds a buffered file
    object (and asks whether it is a terminal), a few times the cost of the read itself
    for the small files a run's end reads back (its start document and journal)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, size + 1)]
        while chunks[-1]:  # grown since the fstat (another writer), or a short read
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    try:
        raw = read_small_file(path)
    except FileNotFoundError:
        return []
    try:  # the whole file in one parse (half the time of one a line): every line is one
        # JSON object and json.dumps leaves no raw newline in it; a bad line (a killed
        # writer's last) makes the whole fail, and then each line is parsed on its own
        whole: list[dict[str, Any]] = json.loads(
            b"[" + raw.rstrip(b"\n").replace(b"\n", b",") + b"]"
        )
    except ValueError:
        pass
    else:
        return whole
    records = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # the half-written last line of a killed process
    return records


def _read_summaries(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def truncate_partial_line(path: Path) -> None:
    """Cut a file back to its last complete line (what a kill mid-write leaves)."""
    size = path.stat().st_size
    if size == 0:
        path.write_bytes(CSV_HEADER)
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        position = max(size - 65536, 0)
        handle.seek(position)
        tail = handle.read()
        cut = tail.rfind(b"\n")
        handle.truncate(position + cut + 1 if cut >= 0 else 0)
        if cut < 0 and position == 0:
            handle.write(CSV_HEADER)


def remove_run_dir(run_dir: Path) -> None:
    """Remove a staging folder: first renamed out of sight in one step, then deleted.

    A process killed halfway through deleting would otherwise leave a visible folder
    without its ``owner.lock``, which recovery must treat as alive (a start in progress
    looks the same for a moment). Hidden ``.done-*`` folders are always safe to delete.
    """
    hidden = run_dir.with_name(f"{DONE_PREFIX}{run_dir.name}-{os.getpid()}")
    try:
        run_dir.rename(hidden)
    except OSError:
        hidden = run_dir  # already gone, or renamed by another process: delete what is left
    import shutil  # only here: `gitruns log-metric` reads staging without it

    shutil.rmtree(hidden, ignore_errors=True)


def last_logged_step(run_dir: Path, key: str) -> int:
    """The highest step of ``key`` any writer of the run has flushed; -1 when none."""
    last = -1
    for writer_dir in writer_dirs(run_dir):
        for entry in _read_json_lines(writer_dir / KEYS_FILE):
            if entry.get("key") != key:
                continue
            path = writer_dir / f"m{entry['n']}.csv"
            try:
                with path.open("rb") as handle:
                    handle.seek(max(path.stat().st_size - 256, 0))
                    lines = handle.read().split(b"\n")
            except FileNotFoundError:
                continue
            for line in reversed(lines):
                head = line.split(b",", 1)[0]
                if head.isdigit():
                    last = max(last, int(head))
                    break
    return last
