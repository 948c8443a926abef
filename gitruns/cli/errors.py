"""The one place that turns exceptions into messages and exit codes."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitruns.errors import GitrunsError

EXIT_ERROR = 1
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY_ERRORS = {errno.EROFS, errno.EACCES, errno.EPERM}
EXIT_INTERRUPTED = 130
_F = TypeVar("_F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("GITRUNS_DEBUG", "") not in ("", "0")


def fail(message: str, hint: str = "") -> None:
    """Print ``gitruns: error: <what>; <what to do>`` on stderr and exit 1."""
    from gitruns.display.safe_text import printable

    text = f"{message}; {hint}" if hint else message
    # Messages quote run data; their own line breaks (a filter's caret) are meant.
    click.echo(f"gitruns: error: {printable(text, keep=chr(10))}", err=True)
    sys.exit(EXIT_ERROR)


def run_guarded(action: Callable[[], Any]) -> Any:
    """Run a command body: library errors become one line and exit 1, Ctrl-C exits 130."""
    try:
        return action()
    except GitrunsError as exc:
        if debug_enabled():
            _print_traceback()
        fail(exc.message, exc.hint)
    except KeyboardInterrupt:
        click.echo("gitruns: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
        raise
    except BrokenPipeError:
        sys.stderr.close()  # output piped into `head`: stop quietly
        sys.exit(EXIT_ERROR)
    except Exception as exc:
        if debug_enabled():
            _print_traceback()
        if _is_read_only_error(exc):
            fail(
                f"cannot write: {exc}",
                "the repository (or that file) is read-only for you: reading runs works, and"
                " recording or changing them needs a clone you can write",
            )
        if _is_disk_error(exc):  # raised by the OS or by libgit2, which only gives text
            fail(
                f"cannot write to disk: {exc}",
                "free disk space: runs already recorded are safe, and a run that was in"
                " progress is finalised with everything on disk by the next gitruns command",
            )
        fail(
            f"unexpected {type(exc).__name__}: {exc}",
            "rerun with --debug for the traceback and report it",
        )


def _print_traceback() -> None:
    import traceback  # only with --debug: every command loads this module

    traceback.print_exc()


def _is_read_only_error(error: Exception) -> bool:
    if isinstance(error, OSError) and error.errno in _READ_ONLY_ERRORS:
        return True
    return "Read-only file system" in str(error) or "Permission denied" in str(error)


def _is_disk_error(error: Exception) -> bool:
    if isinstance(error, OSError) and error.errno in _DISK_ERRORS:
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)
