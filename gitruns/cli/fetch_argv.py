"""``gitruns fetch [REMOTE]`` without click: a fetch is git processes driven from Python, and
importing click and building the command group cost about as much CPU as the fetch's own
work on a small transfer (issue 16 part 5 measures ``gitruns fetch`` against raw git).

:func:`try_fast_path` takes only the plain forms (``fetch`` and ``fetch REMOTE``) and leaves
everything else (``--help``, a name that starts with ``-``, any global option) to click,
which runs the same body (``cli.push_fetch_pull.fetch_command``) and prints the same lines
(:func:`fetch_lines`); errors go through the CLI's one handler (``cli.errors.run_guarded``),
loaded only when one happens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitruns.sharing.fetch import FetchReport
    from gitruns.sharing.gitcli import Echo


def progress_echo() -> Echo | None:
    """Where git's progress goes: our stderr when it is a terminal, else nowhere."""
    if not sys.stderr.isatty():
        return None

    def write(chunk: bytes) -> None:
        sys.stderr.buffer.write(chunk)
        sys.stderr.buffer.flush()

    return write


def fetch_lines(report: FetchReport) -> list[str]:
    """What ``gitruns fetch`` (and ``pull``, for its fetch) prints on stderr."""
    lines = [
        f"fetched from {report.remote}: {len(report.new)} new, {len(report.updated)} "
        f"updated, {len(report.removed)} gone"
    ]
    if not report.refused and not report.invalid:
        return lines  # (the usual case: the module that makes ref names printable not loaded)
    from gitruns.display.safe_text import printable

    lines += [
        printable(f"refused  {ref}: rewritten on the remote ({why}); kept our copy")
        for ref, why in report.refused
    ]
    lines += [printable(f"skipped  {ref}: {why}") for ref, why in report.invalid]
    return lines


def fetch(remote: str) -> None:
    from gitruns.sharing.fetch import fetch_runs
    from gitruns.sharing.lightrepo import open_for_transfer

    report = fetch_runs(open_for_transfer(), remote, echo=progress_echo())
    sys.stderr.write("".join(f"{line}\n" for line in fetch_lines(report)))
    sys.stderr.flush()


def _plain_call(args: Sequence[str]) -> Callable[[], object] | None:
    """The call ``args`` (after ``gitruns``) asks for, when click would read it the same way."""
    from gitruns.cli.outside_click import remote_verb_call

    return remote_verb_call(args, "fetch", fetch)


def try_fast_path(args: Sequence[str]) -> bool:
    """Run ``args`` here and return True, or return False for click to parse them."""
    from gitruns.cli.outside_click import run_when_plain

    return run_when_plain(_plain_call(args))
