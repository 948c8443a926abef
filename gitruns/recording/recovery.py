"""Find runs whose process died and finalise them with everything they had staged."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from gitruns.locks import LivenessLock
from gitruns.recording.finalize import finalize
from gitruns.recording.staging import (
    StagingArea,
    remove_run_dir,
    writer_is_alive,
)
from gitruns.recording.staging_files import (
    DONE_PREFIX,
    NEW_PREFIX,
    OWNER_LOCK,
    STAGING_DIR,
    START_FILE,
    WRITER_PREFIX,
)
from gitruns.storage import Store


def staging_area(store: Store) -> StagingArea:
    return StagingArea(store.gitruns_dir / STAGING_DIR)


def recover_orphans(store: Store) -> list[str]:
    """Finalise every staged run whose owner is gone; return the ids finalised.

    A run whose owner died but whose child process still writes (``gitruns record`` was
    killed, the training script lives on) is left alone until that child ends too.
    """
    recovered: list[str] = []
    if not os.access(store.common_dir, os.W_OK):
        return recovered  # read-only: staged runs wait for someone who may write them
    _remove_abandoned_starts(staging_area(store).root)
    for run_dir in staging_area(store).run_dirs():
        lock = LivenessLock.acquire(run_dir / OWNER_LOCK, create=False)
        if lock is None:
            if not (run_dir / OWNER_LOCK).exists() and store.run_commit(run_dir.name):
                remove_run_dir(run_dir)  # half deleted after its run was written
            continue
        try:
            if not (run_dir / START_FILE).exists():
                remove_run_dir(run_dir)  # died before the run was announced: nothing to keep
                continue
            if any(writer_is_alive(w) for w in run_dir.glob(WRITER_PREFIX + "*")):
                continue
            try:
                if finalize(store, run_dir) is not None:
                    recovered.append(run_dir.name)
            except Exception:
                # A folder that cannot be finalised (damaged by hand, a full disk) stays
                # where it is, untouched, for a later try; it must not block every command.
                continue
        finally:
            lock.release()
    return recovered


ABANDONED_START_SECONDS = 60.0


def _remove_abandoned_starts(root: Path) -> None:
    """Remove ``.new-<id>`` folders of processes killed while starting a run, and
    ``.done-*`` folders of processes killed while deleting a finalised run's staging.

    Such a run was never announced (``start_run`` had not returned), so there is nothing
    to keep. Only old folders whose owner is gone are touched, so a start in progress,
    which takes its lock a moment after making the folder, is never disturbed.
    """
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith((NEW_PREFIX, DONE_PREFIX))]
    except FileNotFoundError:
        return
    for entry in entries:
        folder = Path(entry.path)
        if entry.name.startswith(DONE_PREFIX):  # its run was written: only deleting was left
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            if time.time() - entry.stat().st_mtime < ABANDONED_START_SECONDS:
                continue
        except FileNotFoundError:
            continue
        lock = LivenessLock.acquire(folder / OWNER_LOCK, create=False)
        if lock is None and (folder / OWNER_LOCK).exists():
            continue  # its owner still lives
        try:
            remove_run_dir(folder)
        finally:
            if lock is not None:
                lock.release()
