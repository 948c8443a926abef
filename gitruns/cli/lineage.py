"""``gitruns lineage``: the runs a run builds on and the runs built on it."""

from __future__ import annotations

import click


@click.command("lineage")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "dot", "mermaid"]),
    default="text",
    show_default=True,
    help="A text tree, Graphviz dot, or a Mermaid flowchart.",
)
@click.option(
    "--depth",
    type=click.IntRange(1, 50),
    default=50,
    show_default=True,
    help="Steps to follow upstream and downstream.",
)
def command(run: str, fmt: str, depth: int) -> None:
    """Show RUN's lineage: parent runs (fine-tuned from, resumed from), runs whose artifacts
    RUN used as inputs (matched by sha256: a dataset from a preprocessing run, a checkpoint),
    and the runs downstream of RUN, transitively. Local and fetched runs take part.

    \b
    Examples:
      gitruns lineage finetune-3
      gitruns lineage 3f2a9c1d --format dot | dot -Tsvg > lineage.svg
      gitruns lineage finetune-3 --format mermaid >> README.md
    """
    from gitruns.artifacts.lineage import lineage
    from gitruns.display.lineage import as_dot, as_mermaid, as_text
    from gitruns.recording.repository import open_store

    graph = lineage(open_store(), run, depth)
    render = {"text": as_text, "dot": as_dot, "mermaid": as_mermaid}[fmt]
    click.echo(render(graph), nl=False)


commands = [command]
