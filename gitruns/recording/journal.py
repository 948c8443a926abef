"""The append-only journal one process writes while a run is in progress.

Each writing process has its own files, so no two processes ever append to one file. The
run's owner writes in the run's staging folder itself; each process that joins the run
(a script under ``gitruns record``, a ``gitruns log-metric``) in a folder of its own:

    <run folder>/ or <run folder>/w-<time>-<pid>-<random>/
        writer.lock     (joined writers) held while the process lives
        events.jsonl    params, tags, notes, artifacts, the end status; written at each call
        keys.jsonl      metric key -> file number, written before the key's first point
        m<N>.csv        ``step,timestamp,value`` lines of one metric key
        summary.json    (joined writers) per-key summaries, written when closing cleanly
        live.json       per-key summaries of the points on disk and the bytes they cover,
                        rewritten by the periodic flush (gitruns.runs.live reads only the rest)

Metric points are buffered in memory and appended at least every ``FLUSH_SECONDS`` by one
background thread shared by every writer of the process (and at once when a buffer grows
large, so memory stays flat). A ``kill -9`` loses at most the last fraction of a second of
points, never earlier ones. One shared thread, not one a run: starting and joining a thread
cost more than everything else a small run does.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from gitruns.errors import InvalidInputError, RunStateError, StorageWriteError
from gitruns.format.budget import MAX_STEP, RunBudget, check_step, timestamp_ms
from gitruns.format.validation import check_metric_key, to_metric_value, to_step
from gitruns.locks import LivenessLock
from gitruns.recording.staging_files import (
    EVENTS_FILE,
    KEYS_FILE,
    LIVE_FILE,
    POINTS_EVENT,
    SUMMARY_FILE,
    WRITER_LOCK,
    WRITER_PREFIX,
)

FLUSH_SECONDS = 0.5
MAX_OPEN_FILES = 32  # metric files a writer keeps open at once (any number of keys work)
MAX_BUFFERED_LINES = 20_000
MAX_JOURNAL_POINTS = 256 << 10  # bytes of points a run's end may put in its events file
CSV_HEADER = b"step,timestamp,value\n"
# One encoder for every event line: ``json.dumps`` with options builds a new one a call,
# a few microseconds each, and a small run writes a dozen lines.
_EVENT_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"))


class MetricSummary:
    """Running summary of one metric key; NaN never becomes min or max.

    ``last`` is the value at the highest step, ties going to the latest timestamp (then
    to the point logged last), as MLflow's "latest" metric: a series logged out of order,
    or a resumed run that logs an earlier step again, still reports its final value.
    ``last_step`` and ``last_timestamp`` belong to that point.
    """

    __slots__ = ("count", "last", "last_step", "last_timestamp", "max", "min")

    def __init__(self) -> None:
        self.count = 0
        self.last = float("nan")
        self.min = float("nan")
        self.max = float("nan")
        self.last_step = -1
        self.last_timestamp = 0

    def add(self, step: int, timestamp: int, value: float) -> None:
        self.count += 1
        if step > self.last_step or (step == self.last_step and timestamp >= self.last_timestamp):
            self.last = value
            self.last_step = step
            self.last_timestamp = timestamp
        if value == value:  # not NaN
            if not (value >= self.min):  # also true while min is still NaN
                self.min = value
            if not (value <= self.max):
                self.max = value

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last": self.last,
            "min": self.min,
            "max": self.max,
            "last_step": self.last_step,
            "last_timestamp": self.last_timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricSummary:
        summary = cls()
        for name in cls.__slots__:
            setattr(summary, name, data[name])
        return summary


class _KeyStream:
    __slots__ = ("buffer", "fd", "key", "number", "on_disk", "path", "summary", "written")

    def __init__(self, key: str, number: int, path: Path) -> None:
        self.key = key
        self.number = number
        self.path = path
        self.fd: int | None = None  # None while closed (see MAX_OPEN_FILES)
        self.on_disk = False  # the file is made (and the key announced) at the first write
        self.buffer: list[str] = []
        self.summary = MetricSummary()
        self.written = len(CSV_HEADER)  # bytes of the key's file on disk


class JournalWriter:
    """Appends one process's part of a run to its own files.

    The run's owner writes straight into the run's folder (its ``owner.lock`` already says
    whether it lives, and its summaries go to finalisation in memory); a process that joins
    the run gets a ``w-...`` folder with its own ``writer.lock`` and leaves ``summary.json``
    behind. Files are created on first use, so a run without metrics has no metric files.
    """

    def __init__(self, run_dir: Path, *, owner: bool) -> None:
        self._lock_file: LivenessLock | None = None
        if owner:
            self.dir = run_dir
        else:
            # time first, so that sorting writer folders by name sorts them by creation
            name = f"{WRITER_PREFIX}{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}"
            self.dir = run_dir / name
            self.dir.mkdir()
            self._lock_file = LivenessLock.acquire(self.dir / WRITER_LOCK, create=True)
            assert self._lock_file is not None  # a fresh folder of our own
        self._events_fd: int | None = None
        self._keys_fd: int | None = None
        self._streams: dict[str, _KeyStream] = {}
        self.budget = RunBudget()  # what this process logged, against the read limits
        # Streams whose file is open, least recently written first: at most MAX_OPEN_FILES,
        # so a run may log any number of keys under a small `ulimit -n`.
        self._open: OrderedDict[str, _KeyStream] = OrderedDict()
        self._mutex = threading.Lock()
        self._closed = False  # no more logging
        self._sealed = False  # no more points (the run is ending)
        self._released = False  # files closed (guarded by _mutex: the flusher checks it)

    # -- events -----------------------------------------------------------------------
    def append_event(self, kind: str, **fields: Any) -> None:
        """Write one event line at once (events are rare; each is durable on return)."""
        if self._closed:
            raise _ended()
        record = {**fields, "event": kind, "ts": time.time()}
        line = _EVENT_ENCODER.encode(record) + "\n"
        try:
            if self._events_fd is None:
                with self._mutex:  # the environment capture thread may write the first event
                    if self._events_fd is None:
                        self._events_fd = _open_append(self.dir / EVENTS_FILE)
            os.write(self._events_fd, line.encode("utf-8"))
        except OSError as exc:
            raise _write_failed(self.dir, exc) from exc

    # -- metrics: the hot path ----------------------------------------------------------
    def log_metric(
        self, key: str, value: object, step: object = None, timestamp: object = None
    ) -> None:
        if self._closed or self._sealed:
            raise _ended()
        # Check the point before the key's file is opened: a refused point changes nothing.
        number = value if type(value) is float else to_metric_value(value, key)
        if step is not None and (type(step) is not int or step < 0 or step > MAX_STEP):
            step = check_step(to_step(step, key), key)
        stamp = None if timestamp is None else _to_ms(timestamp, key)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._open_stream(key)
        with self._mutex:
            summary = stream.summary
            at_step = summary.last_step + 1 if step is None else step
            at_ms = time.time_ns() // 1_000_000 if stamp is None else stamp
            stream.buffer.append(f"{at_step},{at_ms},{number!r}\n")
            summary.add(at_step, at_ms, number)
            if len(stream.buffer) >= MAX_BUFFERED_LINES:
                self._write_stream(stream)

    def summaries(self) -> dict[str, MetricSummary]:
        return {key: stream.summary for key, stream in self._streams.items()}

    def _open_stream(self, key: str) -> _KeyStream:
        check_metric_key(key)
        with self._mutex:
            if key in self._streams:
                return self._streams[key]
            self.budget.metric_key(key)
            number = len(self._streams)
            stream = _KeyStream(key, number, self.dir / f"m{number}.csv")
            self._streams[key] = stream
            if len(self._streams) == 1:
                _FLUSHER.add(self)
            return stream

    def _make_file(self, stream: _KeyStream) -> None:
        """The key's file and its line in keys.jsonl, at its first write: a run that ends
        before its first flush never makes them (``take_unwritten``)."""
        fd = -1
        try:
            fd = _open_append(stream.path)
            os.write(fd, CSV_HEADER)
            line = json.dumps({"n": stream.number, "key": stream.key}) + "\n"
            if self._keys_fd is None:
                self._keys_fd = _open_append(self.dir / KEYS_FILE)
            os.write(self._keys_fd, line.encode("utf-8"))
        except OSError as exc:  # e.g. a full disk: leave no half-made file behind
            if fd >= 0:
                os.close(fd)
            stream.path.unlink(missing_ok=True)
            raise _write_failed(self.dir, exc) from exc
        stream.fd = fd
        stream.on_disk = True
        self._keep_open(stream.path.name, stream)

    def seal(self) -> None:
        """No more points (the run is ending): later calls raise, as after ``close``."""
        self._sealed = True

    def points_to_journal(self) -> None:
        """Write the points of every key none of which reached a file yet into the
        events file, one ``points`` line a key in its final CSV form, instead of making
        a file and a keys.jsonl line for each (what a small run that ends before its
        first flush costs most). Recovery and finalisation read them as a staged file."""
        with self._mutex:
            pending = [s for s in self._streams.values() if not s.on_disk and s.buffer]
            if sum(len(line) for s in pending for line in s.buffer) > MAX_JOURNAL_POINTS:
                return  # larger runs: files, as usual
            texts = [(stream, "".join(stream.buffer)) for stream in pending]
            for stream in pending:  # taken out here, so the flusher cannot write them too
                stream.buffer.clear()
        for index, (stream, text) in enumerate(texts):
            try:
                self.append_event(POINTS_EVENT, key=stream.key, csv=text)
            except StorageWriteError:
                with self._mutex:  # a full disk: keep them for the files, as flushes do
                    for later, lost in texts[index:]:
                        later.buffer.insert(0, lost)
                raise

    def flush(self, *, publish: bool = False) -> None:
        """Append every buffered point to its file; with ``publish``, then leave the
        summaries of what is on disk for readers of the run in progress (``LIVE_FILE``),
        so that they read only the points written since."""
        with self._mutex:
            if self._released:
                return
            wrote = False
            for stream in self._streams.values():
                if stream.buffer:
                    self._write_stream(stream)
                    wrote = True
            if publish and wrote:
                self._publish()

    def _publish(self) -> None:
        """Write ``{key: summary + "bytes": file size it covers}`` atomically. Called with
        every buffer empty, so each summary is exactly that of its file's first bytes."""
        data = {
            key: {**stream.summary.to_dict(), "bytes": stream.written}
            for key, stream in self._streams.items()
        }
        tmp = self.dir / (LIVE_FILE + ".tmp")
        try:
            tmp.write_text(json.dumps(data, allow_nan=True))
            tmp.replace(self.dir / LIVE_FILE)
        except OSError:
            pass  # only readers' speed depends on it: they read the whole series instead

    def _keep_open(self, key: str, stream: _KeyStream) -> None:
        self._open[key] = stream
        self._open.move_to_end(key)
        while len(self._open) > MAX_OPEN_FILES:
            _, oldest = self._open.popitem(last=False)
            if oldest.fd is not None:
                os.close(oldest.fd)
                oldest.fd = None

    def _write_stream(self, stream: _KeyStream) -> None:
        if not stream.on_disk:
            self._make_file(stream)  # on failure every point stays buffered
        data = "".join(stream.buffer).encode("ascii")
        stream.buffer.clear()
        view = memoryview(data)
        try:
            if stream.fd is None:
                stream.fd = _open_append(stream.path)
            fd = stream.fd
            self._keep_open(stream.path.name, stream)
            while view:
                count = os.write(fd, view)
                stream.written += count
                view = view[count:]
        except OSError as exc:
            # Keep what did not reach the disk; a later flush continues exactly where this
            # one stopped (recovery drops a half-written last line if none ever does).
            stream.buffer.append(bytes(view).decode("ascii"))
            raise _write_failed(self.dir, exc) from exc

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Flush, leave the summaries (a joined writer), let go of the files and the lock."""
        if self._closed:
            return
        self._closed = True
        _FLUSHER.discard(self)
        self.flush()
        with self._mutex:  # the shared flusher may be flushing this writer right now
            if self._lock_file is not None:
                summaries = {key: s.summary.to_dict() for key, s in self._streams.items()}
                tmp = self.dir / (SUMMARY_FILE + ".tmp")
                tmp.write_text(json.dumps(summaries, allow_nan=True))
                tmp.replace(self.dir / SUMMARY_FILE)
            for fd in [s.fd for s in self._open.values()] + [self._events_fd, self._keys_fd]:
                if fd is not None:
                    os.close(fd)
            self._open.clear()
            self._released = True
        if self._lock_file is not None:
            self._lock_file.release()


class _SharedFlusher:
    """One daemon thread that flushes every open writer of the process periodically."""

    def __init__(self) -> None:
        self._writers: weakref.WeakSet[JournalWriter] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, writer: JournalWriter) -> None:
        with self._lock:
            self._writers.add(writer)
            # after a fork the parent's thread does not exist here: start our own
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="gitruns-flush", daemon=True
                )
                self._thread.start()

    def after_fork(self) -> None:
        """In a forked child: the parent's thread is gone and its lock may look held."""
        self._lock = threading.Lock()
        self._thread = None

    def discard(self, writer: JournalWriter) -> None:
        with self._lock:
            self._writers.discard(writer)

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            with self._lock:
                writers = list(self._writers)
            for writer in writers:
                try:
                    writer.flush(publish=True)
                except (OSError, StorageWriteError):
                    continue  # a full disk: keep buffering; the writer's own calls will raise


_FLUSHER = _SharedFlusher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_FLUSHER.after_fork)


def _write_failed(folder: Path, error: OSError) -> StorageWriteError:
    what = f"cannot write the run's journal in {folder}: {error.strerror or error}"
    if error.errno in (errno.EMFILE, errno.ENFILE):
        return StorageWriteError(
            what, "the process has too many files open: raise the limit (ulimit -n) or close files"
        )
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageWriteError(what, "the repository is not writable: record where you may write")
    return StorageWriteError(
        what,
        "free disk space and carry on: points not yet written stay in memory and are written"
        " when space returns; if the process ends first, the next gitruns command keeps"
        " everything already on disk (the run becomes CRASHED)",
    )


def _ended() -> RunStateError:
    return RunStateError("the run has already ended", "start a new run with gitruns.start_run()")


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def _to_ms(timestamp: object, key: str) -> int:
    """Accept seconds (float, like time.time()) or milliseconds (int, like MLflow)."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise InvalidInputError(
            f"timestamp {timestamp!r} is not a number",
            "pass seconds as a float (time.time()) or milliseconds as an int",
        )
    return timestamp_ms(timestamp, key)
