"""Carry a child's stdout or stderr to the terminal live while saving it.

When our own stream is a terminal, the child writes to a pseudo-terminal, so it still
sees a tty: colours and progress bars behave as they would without gitruns. Otherwise a
plain pipe. Bytes pass through untouched (binary-safe).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Callable
from typing import BinaryIO

from gitruns.recording.capped_log import CappedLog

_READ_SIZE = 65536


class OutputPump:
    """One output stream of the child: the fd to give it, and a thread draining ours."""

    def __init__(
        self, sink: BinaryIO, log: CappedLog, on_data: Callable[[bytes], None] | None = None
    ) -> None:
        self.sink = sink
        self.log = log
        self.on_data = on_data  # e.g. --metric-regex matching; must not raise
        self.child_fd, self._read_fd = _open_channel(sink)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="gitruns-output", daemon=True)

    def start(self) -> None:
        """Call after the child has started: our copy of its end is closed here."""
        os.close(self.child_fd)
        self._thread.start()

    def _pump(self) -> None:
        while True:
            ready, _, _ = select.select([self._read_fd], [], [], 0.2)
            if not ready:
                if self._stop.is_set():
                    return
                continue
            try:
                data = os.read(self._read_fd, _READ_SIZE)
            except OSError:  # EIO: the pty's other side is gone
                return
            if not data:
                return
            self.log.write(data)
            if self.on_data is not None:
                self.on_data(data)
            with contextlib.suppress(OSError, ValueError):
                self.sink.write(data)
                self.sink.flush()

    def finish(self, wait: float = 2.0) -> None:
        """Drain what is left; stop waiting after ``wait`` s if a grandchild keeps the
        stream open (a daemon the job left behind)."""
        self._thread.join(wait)
        self._stop.set()
        self._thread.join()
        os.close(self._read_fd)
        self.log.close()


def _open_channel(sink: BinaryIO) -> tuple[int, int]:
    """(fd for the child, fd we read): a pty when ``sink`` is a terminal, else a pipe."""
    try:
        sink_fd = sink.fileno()
        is_tty = os.isatty(sink_fd)
    except (OSError, ValueError, AttributeError):
        sink_fd, is_tty = -1, False
    if is_tty:
        import pty
        import termios

        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # keep "\n" as "\n" in the saved log
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        _copy_window_size(sink_fd, slave)
        return slave, master
    read_fd, write_fd = os.pipe()
    return write_fd, read_fd


def _copy_window_size(from_fd: int, to_fd: int) -> None:
    import fcntl
    import termios

    with contextlib.suppress(OSError):
        size = fcntl.ioctl(from_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(to_fd, termios.TIOCSWINSZ, size)
