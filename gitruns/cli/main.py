"""``gitruns``: the command group, global options and command registration."""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from gitruns import __version__
from gitruns.cli.errors import run_guarded

# Every command and the module of gitruns/cli/ that defines it (each module's ``commands``).
# A module is imported only when one of its commands runs, or when help lists them all:
# `gitruns log-metric` then loads one small module, not the whole CLI.
COMMAND_MODULES = {
    "record": "record",
    "log-metric": "log_metric_param_tag",
    "log-param": "log_metric_param_tag",
    "set-tag": "log_metric_param_tag",
    "ls": "ls",
    "show": "show",
    "logs": "logs",
    "diff": "diff_compare",
    "compare": "diff_compare",
    "metrics": "metrics_plot",
    "plot": "metrics_plot",
    "env": "env",
    "artifacts": "artifacts",
    "tag": "tag_note_rename_history",
    "note": "tag_note_rename_history",
    "rename": "tag_note_rename_history",
    "history": "tag_note_rename_history",
    "rm": "rm_restore_gc",
    "restore": "rm_restore_gc",
    "gc": "rm_restore_gc",
    "remote": "remote",
    "push": "push_fetch_pull",
    "fetch": "push_fetch_pull",
    "pull": "push_fetch_pull",
    "bundle": "bundle",
    "config": "config",
    "ui": "ui",
    "report": "ui",
    "review": "review_check",
    "check": "review_check",
    "bisect": "bisect",
    "ci": "ci",
    "import": "import_mlflow",
    "lineage": "lineage",
}


class GuardedGroup(click.Group):
    """A group whose commands report GitrunsError as one line, not a traceback, and whose
    commands are imported from ``COMMAND_MODULES`` when first asked for."""

    def invoke(self, ctx: click.Context) -> Any:
        return run_guarded(lambda: super(GuardedGroup, self).invoke(ctx))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            module = importlib.import_module(f"gitruns.cli.{COMMAND_MODULES[cmd_name]}")
            for command in module.commands:
                self.add_command(command)
        return self.commands.get(cmd_name)


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


def main() -> None:
    cli(prog_name="gitruns")
