"""``gitruns push [REMOTE]`` without click, as ``cli.fetch_argv`` for fetch: importing click
and building the command group cost about 30 ms of CPU a push (issue 16 part 5 measures
``gitruns push`` against raw ``git push``).

:func:`try_fast_path` takes only the plain forms (``push`` and ``push REMOTE``) and leaves
everything else (runs named, ``--allow-unpublished-code``, ``--help``, global options) to
click, whose command (``cli.push_fetch_pull.push_command``) runs the same body,
:func:`push`; errors go through the CLI's one handler (``cli.errors.run_guarded``), loaded
only when one happens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitruns.runs.catfile_session import CatFileSession
    from gitruns.sharing.push import PushReport
    from gitruns.storage import Store


def push(remote: str, run_refs: Sequence[str] = (), allow_unpublished_code: bool = False) -> None:
    """The body of ``gitruns push``: push, say what went, send artifacts, then fail on the
    runs that did not go through."""
    from gitruns.cli.fetch_argv import progress_echo
    from gitruns.runs.catfile_session import CatFileSession
    from gitruns.sharing.lightrepo import open_for_transfer
    from gitruns.sharing.push import push_runs
    from gitruns.sharing.push_receipt import PushReceipt

    store = open_for_transfer()
    ids = _resolve(store, run_refs) if run_refs else None
    # One git cat-file for every object read: the runs' commits before the push (their
    # code), their artifacts.yaml after it (what to upload), except those of the runs whose
    # artifacts the pre-push hook handled (it says so in the push's receipt).
    with PushReceipt(store.gitruns_dir) as receipt, CatFileSession(store) as objects:
        report = push_runs(
            store,
            remote,
            ids,
            allow_unpublished_code=allow_unpublished_code or None,
            echo=progress_echo(),
            check=False,
            objects=objects,
            push_env=receipt.env,
        )
        sent = report.pushed
        handled = receipt.handled(remote) if sent else set()
        pushed = [
            run_id
            for run_id in map(report.run_id, sent)
            if report.commits.get(run_id) not in handled
        ]
        having = _with_artifacts(store, pushed, report, objects)
    if report.unpublished_code:
        _say(
            f"warning: {len(report.unpublished_code)} run(s) ran on code that is on no branch "
            f"of '{remote}'; that code is now published with them",
            err=True,
        )
    lines = [
        f"{'new' if update.flag == '*' else 'updated':8} {report.run_id(update)}\n"
        for update in sent
    ]
    if lines:  # one write: a push of 10,000 runs took 0.15 s of CPU echoing line by line
        _say("".join(lines), newline=False)
    _say(
        f"pushed {len(sent)} run(s) to {remote}; {len(report.up_to_date)} already there",
        err=True,
    )
    if having:
        _push_artifacts(store, remote, pushed, report.commits)
    report.check()


def _resolve(store: Store, refs: Sequence[str]) -> list[str]:
    from gitruns.query.resolve import find_run_id

    return [find_run_id(store, r) for r in refs]


def _with_artifacts(
    store: Store, run_ids: list[str], report: PushReport, objects: CatFileSession
) -> list[str]:
    """The commits of the pushed runs that may have artifacts: one pass of the push's
    cat-file session, from the root trees its code check read."""
    from gitruns.artifacts.probe import with_artifacts

    commits = [report.commits[i] for i in run_ids if i in report.commits]
    return with_artifacts(store, commits, objects=objects, trees=report.trees)


def _push_artifacts(store: Store, remote: str, run_ids: list[str], commits: dict[str, str]) -> None:
    """Artifacts go with the runs (some have artifacts): the pre-push hook sent them, or
    they are sent now. The artifact machinery loads only here."""
    from gitruns.artifacts.service import after_run_push
    from gitruns.cli.fetch_argv import progress_echo
    from gitruns.display.show import human_size

    sent, note = after_run_push(store, remote, run_ids, progress_echo(), commits)
    if sent is not None:
        _say(
            f"uploaded {len(sent.moved)} artifact object(s), {human_size(sent.bytes_moved)}, "
            f"to {sent.destination}",
            err=True,
        )
    if note:
        _say(f"note: {note}", err=True)


def _say(text: str, *, err: bool = False, newline: bool = True) -> None:
    """What ``click.echo`` does with plain text: write it (and a newline), flush."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n" if newline else text)
    stream.flush()


def _plain_call(args: Sequence[str]) -> Callable[[], object] | None:
    """The call ``args`` (after ``gitruns``) asks for, when click would read it the same way."""
    from gitruns.cli.outside_click import remote_verb_call

    return remote_verb_call(args, "push", push)


def try_fast_path(args: Sequence[str]) -> bool:
    """Run ``args`` here and return True, or return False for click to parse them."""
    from gitruns.cli.outside_click import run_when_plain

    return run_when_plain(_plain_call(args))
