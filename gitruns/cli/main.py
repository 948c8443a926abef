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
    """Add every module of gitruns.cli that defines ``command`` (or ``commands``).

    Command modules import only click at load time; their work is imported when they run,
    so that ``gitruns --help`` and ``gitruns record`` start fast.
    """
    import importlib
    import pkgutil

    import gitruns.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in ("main", "errors") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"gitruns.cli.{info.name}")
        for command in [getattr(module, "command", None), *getattr(module, "commands", [])]:
            if isinstance(command, click.Command):
                cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="gitruns")
