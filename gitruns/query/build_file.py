"""A cache file built from nothing beside the cache, put in its place only when whole.

A cold cache build writes every run at once: 10,000 runs make a 60 MB file. Written into
the live file, each page would go through the WAL and be written twice, with an fsync at
every checkpoint. A build file of its own needs neither a journal nor syncing (nobody
reads it while it is built; a build that dies is thrown away), and it is flushed once and
linked into place when finished. So a half-built file is never taken for the cache: a
process killed mid-build leaves only its build file, which the next build removes, and the
cache that process was building is still missing, so the next query builds it again.

Linking (not renaming) installs the file only where no cache exists: two processes that
build at once both finish, the first one's file becomes the cache, the other's is dropped.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gitruns.locks import LivenessLock

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

BUILD_PREFIX = "cache-build-"
BUILD_SUFFIX = ".sqlite"
INSTALL_LOCK = "cache-install.lock"
# A build file is created, then locked: one not locked may be that instant's, so only
# files older than this are removed as abandoned.
ABANDONED_AGE_S = 60.0
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
BUILD_PAGE_BYTES = 16384


class BuildFile:
    """A new cache file under ``<gitruns>/tmp/``, held by its builder's liveness lock."""

    def __init__(self, path: Path, lock: LivenessLock) -> None:
        self.path = path
        self._lock = lock
        self._flushing: threading.Thread | None = None

    @classmethod
    def create(cls, target: Path) -> BuildFile:
        """A new, empty build file for the cache ``target`` (OSError when the folder is
        not writable: the caller then uses a cache in memory)."""
        folder = target.parent / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        remove_abandoned(folder)
        path = _new_file(folder)
        lock = LivenessLock.acquire(path, create=False)
        if lock is None:  # removed or taken at once: only a clock gone wrong does that
            path.unlink(missing_ok=True)
            raise OSError(f"cannot lock the cache build file {path}")
        return cls(path, lock)

    def connect(self) -> sqlite3.Connection:
        """A connection for building: no journal, no syncing (see the module's text)."""
        return connect_for_building(self.path)

    def flush_early(self) -> None:
        """Start writing the rows to disk now, in a thread, while this process makes the
        indexes and selects rows back on one CPU: ``install``'s fsync then waits only for
        the pages written after (an fsync of the 38 MB of 10,000 runs takes about 20 ms
        here, of 600 MB at 100,000 runs several tenths of a second). Only speed:
        ``install`` still fsyncs the whole file before it links it in."""
        if self._flushing is None:
            self._flushing = threading.Thread(target=_fsync_quietly, args=(self._lock.fileno(),))
            self._flushing.start()

    def _flushed(self) -> None:
        if self._flushing is not None:
            self._flushing.join()

    def install(self, target: Path) -> bool:
        """Flush the finished file and link it to ``target`` unless a cache is there
        already (another process built it first). True when this file became the cache.
        Every connection to the build file must be closed first."""
        self._flushed()
        os.fsync(self._lock.fileno())
        installed = False
        try:
            with _install_lock(target.parent):
                if not target.exists():
                    # Left by a cache deleted while in use: sqlite would read them as the
                    # new file's journal. Under the lock, no other cache is being put here.
                    for suffix in SQLITE_COMPANIONS:
                        Path(f"{target}{suffix}").unlink(missing_ok=True)
                    installed = _link(self.path, target)
        finally:
            self.abandon()
        return installed

    def abandon(self) -> None:
        """Remove the build file (what a failed build leaves); idempotent."""
        self._flushed()  # its descriptor is closed below
        for suffix in ("", *SQLITE_COMPANIONS):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._lock.release()


def _fsync_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):  # install's own fsync says what went wrong
        os.fsync(fd)


def connect_for_building(path: Path) -> sqlite3.Connection:
    """Open a build file: no rollback journal and no fsync (a build that fails is removed,
    never repaired), a big page cache for the inserts, and pages of 16 KiB (set by the
    first connection, before any table): a run's row is about 2 KB, which on 4 KiB pages
    spilled into an overflow page of its own (4.5 KB a row; 2.7 KB on 16 KiB pages)."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    db.execute(f"PRAGMA page_size = {BUILD_PAGE_BYTES}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -4096")  # 4 MiB
    return db


def _link(build: Path, target: Path) -> bool:
    try:
        os.link(build, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: rename, still under the lock
        if target.exists():
            return False
        os.replace(build, target)
    return True


@contextlib.contextmanager
def _install_lock(folder: Path) -> Iterator[None]:
    """Serialise installing the cache (check, clean, link) between processes."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder / INSTALL_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_abandoned(folder: Path) -> int:
    """Remove build files whose builder died (its lock is free) and that are not brand
    new; return how many."""
    removed = 0
    try:
        names = [n for n in os.listdir(folder) if n.startswith(BUILD_PREFIX)]
    except OSError:
        return 0
    now = time.time()
    for name in names:
        if not name.endswith(BUILD_SUFFIX):
            continue
        path = folder / name
        try:
            if now - path.stat().st_mtime < ABANDONED_AGE_S:
                continue
        except OSError:
            continue
        lock = LivenessLock.acquire(path, create=False)
        if lock is None:
            continue  # its builder is still at work
        try:
            for suffix in ("", *SQLITE_COMPANIONS):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            removed += 1
        finally:
            lock.release()
    return removed


def _new_file(folder: Path) -> Path:
    """A new empty file ``<BUILD_PREFIX><random><BUILD_SUFFIX>`` in ``folder``, created
    only if no file has that name (what ``tempfile.mkstemp`` does, without importing
    tempfile on every cold build: about 3 ms)."""
    while True:
        path = folder / f"{BUILD_PREFIX}{os.urandom(6).hex()}{BUILD_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return path
