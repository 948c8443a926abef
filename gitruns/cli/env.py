"""``gitruns env RUN``: print what rebuilds a run's environment."""

from __future__ import annotations

import click


@click.command("env")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["conda", "pip", "requirements"]),
    default=None,
    help="conda: an environment.yml for 'conda env create -f'; pip: the pip-freeze list "
    "as recorded; requirements: a file for 'pip install -r' (without what conda "
    "installed). Default: conda for runs in a conda environment, else requirements.",
)
def command(run: str, fmt: str | None) -> None:
    """Print what rebuilds the environment RUN ran in.

    \b
    Examples:
      gitruns env baseline > environment.yml && conda env create -f environment.yml
      gitruns env baseline --format requirements > requirements.txt
      gitruns env 3f2a9c1d --format pip
    """
    from gitruns.query.resolve import find_run
    from gitruns.recording.repository import open_store
    from gitruns.runs.env_export import export_environment

    found = find_run(open_store(), run)
    click.echo(export_environment(found, fmt), nl=False)


commands = [command]
