"""``gitruns rm`` (to the trash), ``gitruns restore``, ``gitruns gc``."""

from __future__ import annotations

import click

from gitruns.safetext import printable


@click.command("rm")
@click.argument("runs", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def rm_command(runs: tuple[str, ...], yes: bool) -> None:
    """Delete RUNS. They go to a trash (refs/gitruns-trash/) and can be brought back with
    'gitruns restore' until 'gitruns gc' purges them after the grace period (30 days, or
    git config gitruns.trashDays).

    \b
    Examples:
      gitruns rm failed-run-1 failed-run-2
      gitruns rm --yes 3f2a9c1d
    """
    import sys

    from gitruns import lifecycle
    from gitruns.api import open_store
    from gitruns.errors import InvalidInputError
    from gitruns.records import find_run as load

    store = open_store()
    found = list({run.id: run for run in (load(store, ref) for ref in runs)}.values())
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInputError(
                f"refusing to delete {len(found)} run(s) without confirmation",
                "pass --yes to delete without asking",
            )
        for run in found:
            click.echo(printable(f"  {run.id}  {run.name}  {run.status}  {run.start_time}"))
        click.confirm(f"Delete {len(found)} run(s)?", abort=True)
    days = lifecycle.trash_days(store)
    for run in found:
        lifecycle.delete_run(store, run.id)
        click.echo(
            printable(
                f"deleted {run.name} ({run.id}); 'gitruns restore {run.id[-8:]}' "
                f"brings it back for {days:g} days"
            )
        )


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
    from gitruns import layout, lifecycle
    from gitruns.api import open_store
    from gitruns.errors import InvalidInputError

    store = open_store()
    if list_trash or not runs:
        if not list_trash:
            raise InvalidInputError("no run to restore given", "name runs, or pass --list")
        days = lifecycle.trash_days(store)
        for t in lifecycle.trashed_runs(store):
            purge = layout.iso_time(t.deleted_at + days * 86400)[:10]
            deleted = layout.iso_time(t.deleted_at)[:19].replace("T", " ")
            click.echo(
                printable(
                    f"{t.id}  {t.name}  deleted {deleted} by {t.deleted_by}; "
                    f"purged by gc after {purge}"
                )
            )
        return
    for ref in runs:
        restored = lifecycle.restore_run(store, ref)
        click.echo(printable(f"restored {restored.name} ({restored.id})"))


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
    from gitruns import lifecycle
    from gitruns.api import open_store

    store = open_store(recover=False)
    days = lifecycle.parse_age_days(older_than) if older_than is not None else None
    report = lifecycle.collect_garbage(store, older_than_days=days, now=now, dry_run=dry_run)
    _print_report(report, dry_run)


def _print_report(report: object, dry_run: bool) -> None:
    from gitruns.lifecycle import GcReport
    from gitruns.render_show import human_size

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
