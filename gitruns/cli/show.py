"""``gitruns show``: one run in full."""

from __future__ import annotations

import click


@click.command("show")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "yaml"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def command(run: str, fmt: str) -> None:
    """Show everything recorded about RUN (a full id, a unique prefix or suffix of one,
    or a run name).

    \b
    Examples:
      gitruns show baseline
      gitruns show 3f2a9c1d --format json
    """
    from gitruns import render
    from gitruns.api import get_run

    found = get_run(run)
    if fmt == "json":
        click.echo(render.run_as_json(found))
    elif fmt == "yaml":
        click.echo(render.run_as_yaml(found), nl=False)
    else:
        click.echo(render.run_as_text(found), nl=False)
