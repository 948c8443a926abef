"""Runs in progress, read from their staging folders while they are being written.

A reader never takes a lock a writer waits for, never writes, and never truncates: it
reads what the writers have appended so far and ignores a half-written last line. The
only lock touched is a non-blocking attempt on ``owner.lock`` (and joined writers'
``writer.lock``) to tell a live run from one whose process died, which fails at once
while the owner lives. So ``ls``, ``show``, ``metrics``, ``plot`` and ``get_run()`` can
look at a run as often as they like without slowing it down.

A run that ends while being read is gone from staging a moment later: callers that
catch ``FileNotFoundError`` find it again, on its ref.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitruns.errors import RunNotFoundError
from gitruns.format import layout, schema
from gitruns.locks import LivenessLock
from gitruns.recording.capped_log import TAIL_SUFFIXES
from gitruns.recording.journal import CSV_HEADER, MetricSummary
from gitruns.recording.staging import StagedRun, inline_files, writer_dirs, writer_is_alive
from gitruns.recording.staging_files import (
    EVENTS_FILE,
    EXTRA_FILES_DIR,
    KEYS_FILE,
    LIVE_FILE,
    OWNER_LOCK,
    PATCH_STAGED,
    START_FILE,
)
from gitruns.runs.model import Run
from gitruns.storage import Store

LIVE_REF_PREFIX = "staging/"  # the "ref" of a live run in listings: it has no git ref yet
LOG_GAP_MARKER = (
    b"\n[... gitruns: the run is still going; the middle of its output may be cut ...]\n"
)


def staging_root(store: Store) -> Path:
    return store.gitruns_dir / "staging"


def live_run_dirs(store: Store) -> dict[str, Path]:
    """``{run id: staging folder}`` of every run in progress (its owner, or a process that
    joined it, still lives) that has no ref yet."""
    root = staging_root(store)
    try:
        entries = [e for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")]
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        folder = Path(entry.path)
        if (folder / START_FILE).exists() and is_alive(folder):
            found[entry.name] = folder
    return found


def is_alive(run_dir: Path) -> bool:
    """True while the run's owner, or a process that joined the run, lives."""
    lock = LivenessLock.acquire(run_dir / OWNER_LOCK, create=False)
    if lock is None:
        return (run_dir / OWNER_LOCK).exists()
    lock.release()
    try:
        return any(writer_is_alive(w) for w in run_dir.glob("w-*"))
    except FileNotFoundError:
        return False


@dataclass
class LiveRun(Run):
    """A run in progress: status RUNNING, its metrics and files read from staging."""

    run_dir: Path = field(default=Path(), repr=False)
    metric_files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    pid: int | None = None
    inline_files: dict[str, bytes] = field(default_factory=dict, repr=False)  # in the journal

    @property
    def live(self) -> bool:
        return True

    def metric_rows(self, key: str) -> Iterator[tuple[int, int, float]]:
        return _points(self._files(key))

    def metric_chunks(self, key: str) -> Iterator[bytes]:
        """The complete lines written so far, as one CSV (header first)."""
        files = self._files(key)
        yield CSV_HEADER
        for path in files:
            yield _complete_lines(path, len(CSV_HEADER))

    def _files(self, key: str) -> list[Path]:
        files = self.metric_files.get(key)
        if not files:
            raise RunNotFoundError(
                f"run {self.id} has no metric '{key}' yet",
                f"its metrics so far are: {', '.join(sorted(self.metrics)) or 'none'}",
            )
        return files

    def file(self, path: str, max_bytes: int = 0) -> bytes | None:
        """A file of the run as it will be in its tree, as far as it is written now."""
        key = layout.metric_key(path)
        if key is not None:
            files = self.metric_files.get(key)
            if not files:
                return None
            return CSV_HEADER + b"".join(_complete_lines(p, len(CSV_HEADER)) for p in files)
        if path == layout.PATCH_FILE:
            return _read(self.run_dir / PATCH_STAGED)
        if path in self.inline_files:
            return self.inline_files[path]
        staged = self.run_dir / EXTRA_FILES_DIR / path
        if path.startswith("logs/"):
            return read_live_log(staged)
        return _read(staged)


def read_live_run(store: Store, run_dir: Path, now: float | None = None) -> LiveRun:
    """The run as its staging folder holds it now (FileNotFoundError once it is gone)."""
    start = json.loads((run_dir / START_FILE).read_text())
    events: list[dict[str, Any]] = []
    metric_files: dict[str, list[Path]] = {}
    for writer_dir in writer_dirs(run_dir):
        events.extend(_json_lines(writer_dir / EVENTS_FILE))
        for entry in _json_lines(writer_dir / KEYS_FILE):
            path = writer_dir / f"m{entry.get('n')}.csv"
            if isinstance(entry.get("key"), str) and path.exists():
                metric_files.setdefault(entry["key"], []).append(path)
    events.sort(key=lambda e: e.get("ts", 0.0))
    ended = any(e.get("event") == "end" for e in events)
    moment = time.time() if now is None else now
    staged = StagedRun(run_dir.name, start, events, {})
    from gitruns.recording.finalize import replay  # loads only when a run is in progress

    document, params, artifacts = replay(staged, None if ended else "RUNNING", moment)
    if not ended:
        document["end_time"] = None
    schema.validate("run", document, f"run {run_dir.name} in progress")
    published: dict[Path, dict[str, Any]] = {}
    summaries = {
        key: summarize(key, files, published).to_dict()
        for key, files in sorted(metric_files.items())
    }
    summaries = {key: s for key, s in summaries.items() if s["count"]}
    return LiveRun(
        id=run_dir.name,
        commit="",
        document=document,
        params=params,
        metrics=summaries,
        artifacts=artifacts,
        _store=store,
        run_dir=run_dir,
        metric_files=metric_files,
        pid=start.get("pid") if isinstance(start.get("pid"), int) else None,
        inline_files=inline_files(events),
    )


def live_name(run_dir: Path) -> str | None:
    """The run's current name, reading only its start document and events (cheap)."""
    try:
        start = json.loads((run_dir / START_FILE).read_text())
        name = start["run"]["name"]
        events = [e for w in writer_dirs(run_dir) for e in _json_lines(w / EVENTS_FILE)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    renames = sorted((e.get("ts", 0.0), e["name"]) for e in events if e.get("event") == "name")
    return str(renames[-1][1] if renames else name)


def summarize(
    key: str, files: list[Path], published: dict[Path, dict[str, Any]] | None = None
) -> MetricSummary:
    """The summary of metric ``key`` over its files: from each writer's ``live.json``
    (the summary of its file's first bytes, left by its periodic flush) plus the points
    written since, so a read costs the points of the last half second, not the series."""
    cache: dict[Path, dict[str, Any]] = {} if published is None else published
    total = MetricSummary()
    for path in files:
        if path.parent not in cache:
            cache[path.parent] = _live_summaries(path.parent)
        part, offset = _published_part(cache[path.parent].get(key), path)
        for step, stamp, value in _parse(_complete_lines(path, offset)):
            part.add(step, stamp, value)
        _merge_into(total, part)
    return total


def _live_summaries(writer_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((writer_dir / LIVE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _published_part(entry: Any, path: Path) -> tuple[MetricSummary, int]:
    """A writer's published summary of the file ``path`` and the bytes it covers, or a
    fresh summary from the header on when none is usable."""
    if isinstance(entry, dict):
        try:
            covered = int(entry["bytes"])
            if len(CSV_HEADER) <= covered <= path.stat().st_size:
                return MetricSummary.from_dict(entry), covered
        except (KeyError, TypeError, ValueError, OSError):
            pass
    return MetricSummary(), len(CSV_HEADER)


def _merge_into(total: MetricSummary, part: MetricSummary) -> None:
    """Fold one file's summary into the key's (several writers may log one key)."""
    if not part.count:
        return
    if (part.last_step, part.last_timestamp) >= (total.last_step, total.last_timestamp):
        total.last, total.last_step, total.last_timestamp = (
            part.last,
            part.last_step,
            part.last_timestamp,
        )
    for value in (part.min, part.max):
        if value == value:  # not NaN
            if not (value >= total.min):
                total.min = value
            if not (value <= total.max):
                total.max = value
    total.count += part.count


def _complete_lines(path: Path, offset: int) -> bytes:
    """The bytes of ``path`` from ``offset`` up to its last newline: a line still being
    written is left for the next read."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            raw = handle.read()
    except FileNotFoundError:
        return b""
    return raw[: raw.rfind(b"\n") + 1]


def _parse(body: bytes) -> Iterator[tuple[int, int, float]]:
    for line in body.split(b"\n"):
        parts = line.split(b",")
        if len(parts) != 3:
            continue
        try:
            yield int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            continue


def _points(files: list[Path]) -> Iterator[tuple[int, int, float]]:
    """Complete ``step,timestamp,value`` lines of the files, in order."""
    for path in files:
        yield from _parse(_complete_lines(path, len(CSV_HEADER)))


def read_live_log(path: Path) -> bytes | None:
    """A capped log as written so far: its head, then its tail segments (oldest first)."""
    head = _read(path)
    if head is None:
        return None
    segments = [path.with_name(path.name + s) for s in TAIL_SUFFIXES]
    newest = newest_segment(path)
    if newest is None:
        return head
    tail = b"".join(_read(s) or b"" for s in (segments[newest ^ 1], segments[newest]))
    return head + LOG_GAP_MARKER + tail


def newest_segment(path: Path) -> int | None:
    """Which tail segment of a capped log is being written (None: still in the head)."""
    raw = _read(path.with_name(path.name + ".newest"))
    if raw is None:
        return None
    text = raw.decode("ascii", errors="replace").strip()
    return int(text) & 1 if text.isdigit() else 0


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _json_lines(path: Path) -> list[dict[str, Any]]:
    raw = _read(path) or b""
    records = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the line being written right now
        if isinstance(record, dict):
            records.append(record)
    return records
