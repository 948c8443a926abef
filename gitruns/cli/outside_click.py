"""Running a command body whose arguments were read without click (the plain forms of the
logging verbs, ``fetch``, ``push`` and ``record``: ``cli.log_argv``, ``cli.fetch_argv``,
``cli.push_argv``, ``cli.record_argv``), with the CLI's one error handler loaded only
when an error happens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

_T = TypeVar("_T")


def run_outside_click(body: Callable[[], _T]) -> _T:
    """``body()``; an error becomes what ``cli.errors.run_guarded`` makes of it (one line
    and exit 1, or exit 130 on Ctrl-C), exactly as when click runs the command."""
    try:
        return body()
    except (Exception, KeyboardInterrupt) as exc:
        from gitruns.cli.errors import run_guarded

        error = exc  # the except clause's name is gone once it ends

        def again() -> NoReturn:
            raise error

        return run_guarded(again)  # type: ignore[no-any-return]


def run_when_plain(call: Callable[[], object] | None) -> bool:
    """Run ``call`` (what a fast path read from its plain argv) and return True; False when
    there is none, for click to parse the arguments."""
    if call is None:
        return False
    run_outside_click(call)
    return True


def remote_verb_call(
    args: Sequence[str], verb: str, body: Callable[[str], object]
) -> Callable[[], object] | None:
    """``body(remote)`` for ``VERB`` or ``VERB REMOTE`` (after ``gitruns``; the remote
    defaults to origin), or None for any other form, which click reads."""
    if not args or args[0] != verb or len(args) > 2:
        return None
    remote = args[1] if len(args) == 2 else "origin"
    if not remote or remote.startswith("-"):
        return None
    return lambda: body(remote)
