"""A progress bar on stderr for transfers, only when stderr is a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable


class TerminalProgress:
    """``downloading  42% 120.0 MiB / 286.1 MiB  3 objects  58.2 MiB/s`` on one line."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.total = 0
        self.objects = 0
        self.done = 0
        self.started = 0.0
        self.shown = 0.0
        self.lock = threading.Lock()

    def start(self, total_bytes: int, objects: int) -> None:
        self.total, self.objects, self.done = total_bytes, objects, 0
        self.started = time.monotonic()
        self._draw(force=True)

    def advance(self, nbytes: int) -> None:
        with self.lock:
            self.done += nbytes
            self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.shown < 0.1:
            return
        self.shown = now
        mib = 1024 * 1024
        percent = 100 * self.done // self.total if self.total else 100
        rate = self.done / mib / max(now - self.started, 1e-6)
        filled = percent * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        sys.stderr.write(
            f"\r{self.verb} [{bar}] {percent:3d}% {self.done / mib:.1f}/{self.total / mib:.1f} MiB"
            f"  {self.objects} object(s)  {rate:.1f} MiB/s"
        )
        sys.stderr.flush()


def progress_for_terminal(
    verb: str,
) -> tuple[TerminalProgress | None, Callable[[bytes], object] | None]:
    """A bar for object-store transfers and git-lfs's own meter passed through, on a
    terminal; nothing otherwise (logs and pipes stay clean)."""
    if not sys.stderr.isatty():
        return None, None

    def echo(chunk: bytes) -> None:
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()

    return TerminalProgress(verb), echo
