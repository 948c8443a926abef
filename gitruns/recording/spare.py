"""A finished run's staging folder, kept by its process for the next run it starts.

Creating files and folders is much of what a small run costs: on the disks measured here
a new folder costs 100-800 us, a new file 20-400 us, renaming or removing one a few. A
process that records run after run (a sweep, a loop over seeds) therefore keeps the
folder of the run it just finished, and its lock file, instead of deleting them, and
starts its next run in it:

- **retire** (the run's ref exists): the folder is renamed out of ``staging/`` to
  ``gitruns/tmp/spare-<pid>-<random>/`` in one step, so from that moment no scan takes it
  for a run. Its ``owner.lock`` stays held: a spare is alive while its process is.
- **take** (the next run starts): every file but the lock is removed (journal, claim
  file, patch, live.json, summaries, folders) and ``start.json`` is written; then the
  folder is renamed to
  ``staging/<new id>/``, exactly where a new folder would have been renamed from
  ``.new-<id>``. A kill at any moment leaves either a spare (in ``tmp/``, never read as a
  run; removed by the next process that retires a run, at exit, or by ``gitruns gc``) or
  a new run's folder holding its lock and start document, which recovery finalises as
  CRASHED with nothing logged, as for a folder made from scratch.

One spare per process (a run in another repository replaces it); a forked child never
uses its parent's.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path

from gitruns.locks import LivenessLock
from gitruns.recording.staging_files import EVENTS_FILE, OWNER_LOCK, REF_SPARE, START_FILE

SPARE_PREFIX = "spare-"


class _Spare:
    def __init__(self, staging_root: Path, folder: Path, lock: LivenessLock) -> None:
        self.pid = os.getpid()
        self.staging_root = staging_root
        self.folder = folder
        self.lock = lock


_spare: _Spare | None = None  # this process's one spare (one open lock, whatever it does)
_spare_lock = threading.Lock()
_cleaned: set[Path] = set()  # tmp folders this process has looked through for dead spares


def spare_root(staging_root: Path) -> Path:
    """Where spares wait: ``gitruns/tmp``, beside ``gitruns/staging``."""
    return staging_root.parent / "tmp"


def retire(run_dir: Path, lock: LivenessLock) -> bool:
    """Keep a finalised run's folder as this process's spare; True when kept (the lock then
    belongs to the spare), False when the caller must remove the folder and the lock."""
    global _spare
    root = run_dir.parent
    with _spare_lock:
        if _spare is not None and _spare.pid == os.getpid():
            if _spare.staging_root == root:
                return False  # one spare is enough (nested runs end one after the other)
            old, _spare = _spare, None  # runs now go to another repository
        else:
            old = None
        folder = spare_root(root) / f"{SPARE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        try:
            try:
                run_dir.rename(folder)
            except FileNotFoundError:  # no gitruns/tmp yet (a mkdir each run cost more)
                folder.parent.mkdir(exist_ok=True)
                run_dir.rename(folder)
        except OSError:
            return False
        finally:
            if old is not None:
                _discard(old)
        lock.path = folder / OWNER_LOCK
        _spare = _Spare(root, folder, lock)
    _remove_dead_spares(folder.parent)
    return True


def take(staging_root: Path, run_id: str, start_json: str) -> tuple[Path, LivenessLock] | None:
    """This process's spare made into the folder of run ``run_id`` (its start document
    written, the journal empty), or None when there is none (or it cannot be used)."""
    global _spare
    with _spare_lock:
        spare = _spare
        if spare is None or spare.pid != os.getpid() or spare.staging_root != staging_root:
            return None
        _spare = None
    run_dir = staging_root / run_id
    try:
        _empty(spare.folder)
        _overwrite(spare.folder / START_FILE, start_json.encode())
        spare.folder.rename(run_dir)
    except OSError:
        _discard(spare)
        return None
    spare.lock.path = run_dir / OWNER_LOCK
    return run_dir, spare.lock


def _empty(folder: Path) -> None:
    """Leave only the lock, the start document (overwritten next) and the last run's
    journal, renamed ``ref.spare``: its file becomes this run's ref file (see
    ``storage._create_loose_ref``), so a run neither frees that inode nor makes a new one
    for its ref. Nothing else of the run before may remain, and nothing reads
    ``ref.spare`` as a journal. (Files are removed, not truncated to nothing and reused:
    that waits for their writeback on the disks measured here, up to a millisecond a
    file, where a new one costs less.)"""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name in (OWNER_LOCK, START_FILE, REF_SPARE):
                continue
            if entry.name == EVENTS_FILE:
                os.replace(entry.path, os.path.join(folder, REF_SPARE))
                continue
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(entry.path)
            else:
                os.unlink(entry.path)


def _overwrite(path: Path, data: bytes) -> None:
    """Write ``data`` over the file at ``path`` (created if missing), cut to its length:
    the previous run's start document becomes this one's without a new file, whose inode
    would cost 20-800 us here (see docs/design.md, "Writing a small run"). Never cut to
    nothing (a start document is never empty), which would wait for a writeback as
    ``_empty`` says. Nobody reads a spare, so a kill half way is harmless."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], done)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _discard(spare: _Spare) -> None:
    _remove_tree(spare.folder, ignore_errors=True)
    spare.lock.release()


def _remove_dead_spares(tmp: Path) -> None:
    """Once a process: remove the spares of processes that died (their lock is free)."""
    if tmp in _cleaned:
        return
    _cleaned.add(tmp)
    try:
        entries = [e.path for e in os.scandir(tmp) if e.name.startswith(SPARE_PREFIX)]
    except OSError:
        return
    for path in entries:
        if is_dead_spare(Path(path)):
            _remove_tree(path, ignore_errors=True)


def is_dead_spare(folder: Path) -> bool:
    """A spare folder whose process is gone (``gitruns gc`` removes those, never others)."""
    if not folder.name.startswith(SPARE_PREFIX):
        return False
    lock = LivenessLock.acquire(folder / OWNER_LOCK, create=False)
    if lock is None:
        return not (folder / OWNER_LOCK).exists()
    lock.release()
    return True


def _remove_at_exit() -> None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.pid == os.getpid():
        _discard(spare)


def _forget_after_fork() -> None:
    """A forked child must not use (nor remove) its parent's spare; the lock is shared
    with the parent, so it is dropped without being released."""
    global _spare, _spare_lock
    _spare_lock = threading.Lock()
    _spare = None
    _cleaned.clear()


atexit.register(_remove_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _remove_tree(path: str | Path, *, ignore_errors: bool = False) -> None:
    # shutil loads when a tree is there to remove: importing it loads bz2 and lzma (about
    # 2 ms), and `record` preloads this module beside every command
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)
