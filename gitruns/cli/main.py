"""``gitruns``: the command group, global options and command registration."""

from __future__ import annotations

import os
from typing import Any

import click

from gitruns import __version__
from gitruns.cli.errors import run_guarded


class GuardedGroup(click.Group):
    """A group whose commands report GitrunsError as one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        return run_guarded(lambda: super(GuardedGroup, self).invoke(ctx))


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gitruns")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors (or set GITRUNS_DEBUG=1).")
@click.option(
    "-C",
    "repo",
    metavar="PATH",
    default=None,
    help="Run as if gitruns was started in PATH (like git -C).",
)
def cli(debug: bool, repo: str | None) -> None:
    """Track machine-learning runs as git commits on hidden refs (refs/runs/<id>).

    \b
    Examples:
      gitruns record -- python train.py --lr 0.01
      gitruns ls
      gitruns show baseline
    """
    if debug:
        os.environ["GITRUNS_DEBUG"] = "1"
    if repo:
        os.chdir(repo)


def _register() -> None:
    from gitruns.cli import ls, show

    for module in (ls, show):
        cli.add_command(module.command)


_register()


def main() -> None:
    cli(prog_name="gitruns")
