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
    or a run name): status, code, params, metrics with a sparkline each, tags, notes,
    environment, artifacts and lineage. JSON and YAML hold the same facts as plain data.

    \b
    Examples:
      gitruns show baseline
      gitruns show 3f2a9c1d --format json
      gitruns show baseline --format yaml > baseline.yaml
    """
    from gitruns.display import text
    from gitruns.display.show import run_page
    from gitruns.query.resolve import find_run as load
    from gitruns.recording.repository import open_store

    store = open_store()
    found = load(store, run)
    if fmt == "json":
        click.echo(text.run_as_json(found))
    elif fmt == "yaml":
        click.echo(text.run_as_yaml(found), nl=False)
    else:
        click.echo(run_page(found, store), nl=False)


commands = [command]
