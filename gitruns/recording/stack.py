"""The active-run stack of this process, and the exit hooks that end runs a program forgot."""

from __future__ import annotations

import atexit
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from gitruns.errors import GitrunsError, RunStateError

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun

_active: list[ActiveRun] = []
_active_lock = threading.Lock()
_hooks_installed = False


def check_can_start(nested: bool) -> None:
    """Refuse a second active run unless ``nested`` (checked before anything is staged)."""
    with _active_lock:
        if _active and not nested:
            raise RunStateError(
                f"run {_active[-1].id} is already active",
                "end it first, or pass nested=True",
            )


def push(run: ActiveRun) -> None:
    """Make ``run`` the active run, and end it at exit if the program does not."""
    with _active_lock:
        _active.append(run)
    install_exit_hooks()


def is_active(run_id: str) -> bool:
    with _active_lock:
        return any(r.id == run_id for r in _active)


def active_run() -> ActiveRun | None:
    """The innermost active run of this process, or None."""
    with _active_lock:
        return _active[-1] if _active else None


def require_active() -> ActiveRun:
    # No lock: reading the last item of a list is atomic, and this is on the hot path of
    # every module-level log_metric call.
    try:
        return _active[-1]
    except IndexError:
        raise RunStateError("no active run", "call gitruns.start_run() first") from None


def forget_run(run: ActiveRun) -> None:
    with _active_lock:
        if run in _active:
            _active.remove(run)


def install_exit_hooks() -> None:
    """End runs the program forgot to end: FINISHED at exit, FAILED on an uncaught error."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        status = "KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED"
        _end_all(status, error)
        previous_hook(kind, error, tb)

    sys.excepthook = excepthook
    atexit.register(_end_all_at_exit)


def _end_all_at_exit() -> None:
    _end_all("FINISHED", None)


def _end_all(status: str, error: BaseException | None) -> None:
    """End every active run on the way out. A run that cannot be written now (a full disk)
    stays staged: the next gitruns command finalises it with everything on disk."""
    for run in reversed(list(_active)):
        try:
            run.end(status, error=error)
        except (GitrunsError, OSError):
            pass
        finally:
            forget_run(run)
