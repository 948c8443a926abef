"""``gitruns bundle create`` / ``load``: carry runs to machines with no network."""

from __future__ import annotations

import click

from gitruns.display.safe_text import printable


@click.group("bundle")
def command() -> None:
    """Move runs through a file (git bundle), for air-gapped machines.

    \b
    Examples:
      gitruns bundle create runs.bundle
      gitruns bundle load /media/usb/runs.bundle
    """


@command.command("create")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("runs", nargs=-1)
def create(file: str, runs: tuple[str, ...]) -> None:
    """Write RUNS (default: every local run) with their code history into FILE.

    \b
    Examples:
      gitruns bundle create runs.bundle
      gitruns bundle create best.bundle baseline 3f2a9c1d
    """
    from gitruns.query.resolve import find_run_id
    from gitruns.recording.repository import open_store
    from gitruns.sharing import create_bundle

    store = open_store()
    ids = [find_run_id(store, r) for r in runs] if runs else None
    count = create_bundle(store, file, ids)
    click.echo(f"wrote {count} run(s) to {file}")


@command.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def load(file: str) -> None:
    """Load the runs of FILE as local runs (checked like fetched runs; runs you have
    already are fast-forwarded or merged as 'gitruns pull' does).

    \b
    Examples:
      gitruns bundle load runs.bundle
    """
    from gitruns.cli.push_fetch_pull import _show_integrate, refuse_unrelated
    from gitruns.recording.repository import open_store
    from gitruns.sharing import load_bundle

    report = load_bundle(open_store(), file)
    _show_integrate(report.integrated)
    for ref, why in report.fetched.invalid:
        click.echo(printable(f"skipped  {ref}: {why}"), err=True)
    done = report.integrated
    click.echo(
        f"loaded {len(done.added)} new, {len(done.fast_forwarded)} updated, "
        f"{len(done.merged)} merged run(s)",
        err=True,
    )
    refuse_unrelated(done, file)


commands = [command]
