"""``gitruns show``: one run in full."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitruns.storage import Store


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
    or a run name): status, code, params, metrics with a sparkline each, system metrics,
    tags, notes, environment, artifacts and lineage. A FAILED or CRASHED run shows why
    (the end of its traceback, or of its stderr). RUN may be a run fetched from a remote
    or a run still in progress (its metrics so far). Text fits the terminal (COLUMNS; 80
    when piped); JSON and YAML hold the same facts as plain data, in full.

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
        from gitruns.display.fit import terminal_width
        from gitruns.display.show import run_page

        click.echo(run_page(found, store, terminal_width()), nl=False)
        _newer_on_remotes(store, found.id, found.commit, found.origin)


def _newer_on_remotes(store: Store, run_id: str, commit: str, origin: str) -> None:
    """A local run that a remote has annotated since: say how to bring that in."""
    from gitruns.format.layout import REMOTE_RUNS_PREFIX

    if origin != "local" or not commit:
        return
    for remote in store.remote_names():
        theirs = store.ref_commit(f"{REMOTE_RUNS_PREFIX}{remote}/{run_id}")
        if theirs and theirs != commit and not store.is_ancestor(theirs, commit):
            click.echo(
                f"note: {remote} has changes to this run that are not here "
                f"(annotations made there): 'gitruns pull {remote}' brings them in",
                err=True,
            )


commands = [command]
