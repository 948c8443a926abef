"""Find runs whose process died and finalise them with everything they had staged."""

from __future__ import annotations

from pathlib import Path

from gitruns.finalize import finalize
from gitruns.locks import LivenessLock
from gitruns.staging import OWNER_LOCK, START_FILE, StagingArea, remove_run_dir, writer_is_alive
from gitruns.storage import Store


def staging_area(store: Store) -> StagingArea:
    return StagingArea(store.gitruns_dir / "staging")


def recover_orphans(store: Store) -> list[str]:
    """Finalise every staged run whose owner is gone; return the ids finalised.

    A run whose owner died but whose child process still writes (``gitruns record`` was
    killed, the training script lives on) is left alone until that child ends too.
    """
    recovered = []
    for run_dir in staging_area(store).run_dirs():
        lock = LivenessLock.acquire(run_dir / OWNER_LOCK, create=False)
        if lock is None:
            continue
        try:
            if not (run_dir / START_FILE).exists():
                remove_run_dir(run_dir)  # died before the run was announced: nothing to keep
                continue
            if any(writer_is_alive(w) for w in run_dir.glob("w-*")):
                continue
            if finalize(store, run_dir) is not None:
                recovered.append(run_dir.name)
        finally:
            lock.release()
    return recovered


def live_run_ids(store: Store) -> list[str]:
    """Runs staged right now whose owner is still alive."""
    alive = []
    for run_dir in staging_area(store).run_dirs():
        lock = LivenessLock.acquire(Path(run_dir) / OWNER_LOCK, create=False)
        if lock is None:
            if (run_dir / OWNER_LOCK).exists():
                alive.append(run_dir.name)
        else:
            lock.release()
    return alive
