"""``gitruns rm`` (to the trash), ``gitruns restore``, ``gitruns gc``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gitruns.display.safe_text import printable

if TYPE_CHECKING:
    from gitruns.storage import Store


@click.command("rm")
@click.argument("runs", nargs=-1)
@click.option(
    "--filter",
    "-f",
    "filter_",
    metavar="EXPR",
    help="Delete every local run matching EXPR (the filter language of 'gitruns ls -f').",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def rm_command(runs: tuple[str, ...], filter_: str | None, yes: bool) -> None:
    """Delete RUNS, or every local run matching --filter EXPR. They go to a trash
    (refs/gitruns-trash/) and can be brought back with 'gitruns restore' until 'gitruns
    gc' purges them after the grace period (30 days, or git config gitruns.trashDays).
    On a terminal it lists the runs and asks; without one it refuses unless --yes.
    Runs fetched from a remote and runs in progress are not deleted.

    \b
    Examples:
      gitruns rm failed-run-1 failed-run-2
      gitruns rm --yes 3f2a9c1d
      gitruns rm --filter 'status = "CRASHED" and start_time < "2026-11-01"'
    """
    import sys

    from gitruns.errors import InvalidInputError
    from gitruns.recording.repository import open_store
    from gitruns.runs import trash

    if not runs and not filter_:
        raise InvalidInputError(
            "no run to delete given", "name runs, or select them with --filter EXPR"
        )
    store = open_store()
    found = _named_runs(store, runs)
    if filter_:
        found.update(_filtered_runs(store, filter_, set(found)))
    if not found:
        click.echo("no local runs match: nothing deleted", err=True)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(
                f"refusing to delete {len(found)} run(s) without confirmation",
                "pass --yes to delete without asking",
            )
        _list_for_confirmation(found)
        click.confirm(f"Delete {len(found)} run(s)?", abort=True)
    days = trash.trash_days(store)
    for run_id, (name, _status, _start) in found.items():
        trash.delete_run(store, run_id)
        click.echo(
            printable(
                f"deleted {name} ({run_id}); 'gitruns restore {run_id[-8:]}' "
                f"brings it back for {days:g} days"
            )
        )


# A run to delete: its name, status and start time, keyed by id.
_Listed = tuple[str, str, str]


def _named_runs(store: Store, refs: tuple[str, ...]) -> dict[str, _Listed]:
    """The runs named on the command line; each must be a finished local run."""
    from gitruns.errors import GitrunsError, RunStateError
    from gitruns.query.resolve import find_run

    found: dict[str, _Listed] = {}
    for ref in refs:
        run = find_run(store, ref)
        if run.live:
            raise RunStateError(
                f"run {run.id} is still in progress", "stop it first; it can be deleted once ended"
            )
        if run.origin != "local":
            raise GitrunsError(
                f"run {run.id} is a copy fetched from {run.origin}, not a run of this repository",
                "delete it where it was recorded (gitruns rm there, then push)",
            )
        found[run.id] = (run.name, run.status, run.start_time)
    return found


def _filtered_runs(store: Store, filter_: str, named: set[str]) -> dict[str, _Listed]:
    """Local, finished runs matching the filter; the others are named on stderr."""
    from gitruns.query.search import select_runs

    selection = select_runs(store, filter_, ["start_time"])
    found: dict[str, _Listed] = {}
    for row in selection.rows:
        if row.run_id in named:
            continue
        if row.status == "RUNNING":
            click.echo(
                printable(f"skipping {row.run_id} ({row.name}): still in progress"), err=True
            )
        elif row.origin != "local":
            click.echo(
                printable(f"skipping {row.run_id} ({row.name}): fetched from {row.origin}"),
                err=True,
            )
        else:
            found[row.run_id] = (row.name, row.status, row.start_time)
    return found


def _list_for_confirmation(found: dict[str, _Listed]) -> None:
    from gitruns.display.fit import cut, terminal_width

    shown, width = 20, terminal_width()
    for run_id, (name, status, start) in list(found.items())[:shown]:
        click.echo(
            cut(printable(f"  {run_id[-8:]}  {name}  {status}  started {start[:16]}"), width)
        )
    if len(found) > shown:
        click.echo(f"  ... and {len(found) - shown} more")


@click.command("restore")
@click.argument("runs", nargs=-1)
@click.option("--list", "list_trash", is_flag=True, help="List deleted runs instead.")
def restore_command(runs: tuple[str, ...], list_trash: bool) -> None:
    """Bring deleted RUNS back from the trash, exactly as they were (id, unique prefix or
    suffix of an id, or name). --list shows what the trash holds.

    \b
    Examples:
      gitruns restore --list
      gitruns restore failed-run-1
    """
    from gitruns.errors import InvalidInputError
    from gitruns.recording.repository import open_store
    from gitruns.runs import trash

    store = open_store()
    if list_trash or not runs:
        if not list_trash:
            raise InvalidInputError("no run to restore given", "name runs, or pass --list")
        _list_trash(store)
        return
    for ref in runs:
        restored = trash.restore_run(store, ref)
        click.echo(printable(f"restored {restored.name} ({restored.id})"))


def _list_trash(store: Store) -> None:
    """The trash as a table that fits the terminal (ids cut to the last 8 digits, which
    'gitruns restore' accepts)."""
    from gitruns.display.fit import render_table, terminal_width
    from gitruns.format import layout
    from gitruns.format.ids import short_id
    from gitruns.runs import trash

    days = trash.trash_days(store)
    rows = [
        [
            short_id(t.id),
            t.name,
            layout.iso_time(t.deleted_at)[:16].replace("T", " "),
            t.deleted_by,
            layout.iso_time(t.deleted_at + days * 86400)[:10],
        ]
        for t in trash.trashed_runs(store)
    ]
    if not rows:
        click.echo("the trash is empty", err=True)
        return
    headers = ["id", "name", "deleted", "by", "purged after"]
    for line in render_table(headers, rows, terminal_width(), protect=(0, 2, 4)):
        click.echo(line)


@click.command("gc")
@click.option(
    "--older-than",
    "older_than",
    metavar="AGE",
    default=None,
    help="Purge deleted runs older than AGE (30d, 12h, 0 for all); default "
    "git config gitruns.trashDays, else 30 days.",
)
@click.option(
    "--now", is_flag=True, help="Run a full 'git gc --prune=now' instead of 'git gc --auto'."
)
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be removed; change nothing.")
def gc_command(older_than: str | None, now: bool, dry_run: bool) -> None:
    """Clean up: finalise crashed runs, purge deleted runs past the grace period, pack
    refs, run git gc, and remove artifacts and staging leftovers that no run references.

    \b
    Examples:
      gitruns gc
      gitruns gc --dry-run --older-than 0
      gitruns gc --older-than 7d --now
    """
    from gitruns.recording.repository import open_store
    from gitruns.runs import gc, trash

    store = open_store(recover=False)
    days = trash.parse_age_days(older_than) if older_than is not None else None
    report = gc.collect_garbage(store, older_than_days=days, now=now, dry_run=dry_run)
    _print_report(report, dry_run)


def _print_report(report: object, dry_run: bool) -> None:
    from gitruns.display.show import human_size
    from gitruns.runs.gc import GcReport

    assert isinstance(report, GcReport)
    would = "would remove" if dry_run else "removed"
    for run_id in report.recovered:
        click.echo(f"finalised crashed run {run_id}")
    for trashed in report.purged:
        click.echo(
            printable(
                f"{'would purge' if dry_run else 'purged'} deleted run "
                f"{trashed.name} ({trashed.id})"
            )
        )
    click.echo(
        f"{would} {report.artifacts_removed} unreferenced artifact(s), "
        f"{human_size(report.artifact_bytes)}"
    )
    if report.artifacts_skipped:
        click.echo(f"artifacts left alone: {report.artifacts_skipped}")
    click.echo(
        f"{would} {report.staging_removed} staging leftover(s), {human_size(report.staging_bytes)}"
    )
    if not dry_run:
        click.echo(
            f"packed refs; ran {report.git_gc}: git objects "
            f"{human_size(report.objects_before)} -> {human_size(report.objects_after)}"
        )
        click.echo(f"freed {human_size(report.freed)}")


commands = [rm_command, restore_command, gc_command]
