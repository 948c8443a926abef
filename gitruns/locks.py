"""Liveness locks: a process holds a lock file for as long as it lives.

The kernel drops an ``flock`` when its holder dies, even by ``kill -9``, so "can I take the
lock?" answers "is the owner gone?" without trusting pids that the system may reuse.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LivenessLock:
    """An exclusive lock on one file, held until ``release`` or process death."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, *, create: bool) -> LivenessLock | None:
        """Take the lock without waiting; None when another live process holds it.

        With ``create=False`` a missing file also gives None: its owner has already
        cleaned up, so there is nothing to take over.
        """
        # An existing lock file is opened read-only: flock needs no write access, so a
        # read-only repository can still tell a live run from a dead one.
        flags = (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            return None
        if fcntl is None:  # pragma: no cover - no advisory locks: fall back to pid files
            return cls._acquire_by_pid(path, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        if not create and not path.exists():  # removed between open and flock
            os.close(fd)
            return None
        return cls(path, fd)

    @classmethod
    def _acquire_by_pid(cls, path: Path, fd: int) -> LivenessLock | None:  # pragma: no cover
        import psutil

        text = os.read(fd, 32).decode(errors="replace").strip()
        if text.isdigit() and int(text) != os.getpid() and psutil.pid_exists(int(text)):
            os.close(fd)
            return None
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return cls(path, fd)

    def fileno(self) -> int:
        """The locked descriptor: a child process given it keeps the lock while it lives."""
        assert self._fd is not None
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
