"""``gitruns ls``: list runs."""

from __future__ import annotations

import json

import click

from gitruns import layout


@click.command("ls")
@click.option("--limit", "-n", type=int, default=None, help="Show at most N runs (newest first).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def command(limit: int | None, fmt: str) -> None:
    """List recorded runs, newest first.

    Shows id (the last 8 hex digits, accepted anywhere a run is named), name, status,
    start time, duration, and the params and metrics that differ between the runs.

    \b
    Examples:
      gitruns ls
      gitruns ls -n 5 --format json
    """
    from tabulate import tabulate

    from gitruns.api import list_runs
    from gitruns.render import runs_table

    runs = list_runs()
    if limit is not None:
        runs = runs[:limit]
    if fmt == "json":
        click.echo(json.dumps([layout.json_safe(r.to_dict()) for r in runs], indent=2))
        return
    if not runs:
        click.echo("no runs yet: record one with 'gitruns record -- python train.py'", err=True)
        return
    headers, rows = runs_table(runs)
    click.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
