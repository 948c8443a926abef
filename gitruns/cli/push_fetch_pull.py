"""``gitruns push``, ``fetch``, ``pull``: share runs through any git remote."""

from __future__ import annotations

from typing import Any

import click

from gitruns.display.safe_text import printable

_REMOTE_HELP = "The git remote (default: origin)."


def _echo() -> Any:
    """Where git's progress goes: our stderr when it is a terminal, else nowhere."""
    from gitruns.cli.fetch_argv import progress_echo

    return progress_echo()


@click.command("push")
@click.argument("remote", default="origin")
@click.argument("runs", nargs=-1)
@click.option(
    "--allow-unpublished-code",
    is_flag=True,
    default=None,
    help="Push even runs whose code commit is on no branch of the remote "
    "(or git config gitruns.allowUnpublishedCode true).",
)
def push_command(remote: str, runs: tuple[str, ...], allow_unpublished_code: bool | None) -> None:
    """Push runs to REMOTE (default: every local run; git skips those already there).

    Never forced: a run that changed on the remote too is rejected; run 'gitruns pull'
    then push again. A run's code commit travels with it: when that commit is on no
    branch of the remote (unpushed commits, or uncommitted changes of a dirty run),
    gitruns refuses unless --allow-unpublished-code.

    \b
    Examples:
      gitruns push
      gitruns push origin baseline 3f2a9c1d
      gitruns push --allow-unpublished-code
    """
    from gitruns.cli.push_argv import push

    push(remote, runs, bool(allow_unpublished_code))  # what a plain `gitruns push` runs


@click.command("fetch")
@click.argument("remote", default="origin")
def fetch_command(remote: str) -> None:
    """Fetch REMOTE's runs into refs/remote-runs/REMOTE/ (shown by 'gitruns ls').

    Never forced, and only that namespace is pruned. Every new or changed run is checked
    (schema, sizes, safe paths); an invalid one is reported and skipped.

    \b
    Examples:
      gitruns fetch
      gitruns fetch upstream
    """
    from gitruns.cli.fetch_argv import fetch

    fetch(remote)  # what a plain `gitruns fetch [REMOTE]` runs without click


@click.command("pull")
@click.argument("remote", default="origin")
def pull_command(remote: str) -> None:
    """Fetch REMOTE's runs and make them local runs: new runs are copied, runs changed
    there are fast-forwarded, and runs annotated on both sides are merged (tags per key,
    notes from both, conflicts settled by the later change and shown by 'gitruns
    history'). Push afterwards to publish the merges. A run with a local run's id but
    an unrelated history is never merged: it is reported, kept under
    refs/remote-runs/REMOTE/, and pull exits 1.

    \b
    Examples:
      gitruns pull
      gitruns pull upstream && gitruns push upstream
    """
    from gitruns.recording.repository import open_store
    from gitruns.sharing.pull import pull_runs

    fetched, integrated = pull_runs(open_store(), remote, echo=_echo())
    _show_fetch(fetched)
    _show_integrate(integrated)
    refuse_unrelated(integrated, remote)


def _show_fetch(report: Any) -> None:
    from gitruns.cli.fetch_argv import fetch_lines

    for line in fetch_lines(report):
        click.echo(line, err=True)


def _show_integrate(report: Any) -> None:
    for run_id in report.added:
        click.echo(f"new      {run_id}")
    for run_id in report.fast_forwarded:
        click.echo(f"updated  {run_id}")
    for run_id, conflicts in report.merged.items():
        click.echo(f"merged   {run_id}")
        for conflict in conflicts:
            click.echo(printable(f"  conflict {conflict.describe()}"))
    for ref, why in report.invalid:
        click.echo(printable(f"skipped  {ref}: {why}"), err=True)
    for run_id in report.deleted_here:
        click.echo(f"kept deleted {run_id} (in your trash; 'gitruns restore' brings it back)")
    for run_id, ref in report.unrelated:
        click.echo(f"refused  {run_id}: unrelated history, not merged; theirs is {ref}", err=True)


def refuse_unrelated(report: Any, source: str) -> None:
    """Exit 1 (after everything else was reported) when a run was refused for having a
    local run's id without its history: someone must decide which run is the real one."""
    if not report.unrelated:
        return
    from gitruns.errors import GitrunsError

    ids = ", ".join(run_id for run_id, _ in report.unrelated)
    raise GitrunsError(
        f"{len(report.unrelated)} run(s) from {source} have the id of a local run but an "
        f"unrelated history, so they were not merged: {ids}",
        "your runs are unchanged; compare both copies with 'gitruns ls --all' and ask "
        "whoever wrote the other one (a run id is not proof of identity)",
    )


commands = [push_command, fetch_command, pull_command]
