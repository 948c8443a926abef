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
    """Add every command, in the order ``gitruns --help`` lists them.

    Command modules import only click at load time; their work is imported when they run,
    so that ``gitruns --help`` and ``gitruns record`` start fast.
    """
    from gitruns.cli import (
        artifacts,
        bisect,
        bundle,
        ci,
        config,
        diff_compare,
        env,
        import_mlflow,
        lineage,
        log_metric_param_tag,
        logs,
        ls,
        metrics_plot,
        push_fetch_pull,
        record,
        remote,
        review_check,
        rm_restore_gc,
        show,
        tag_note_rename_history,
        ui,
    )

    for module in (
        record,
        log_metric_param_tag,
        ls,
        show,
        logs,
        diff_compare,
        metrics_plot,
        env,
        artifacts,
        tag_note_rename_history,
        rm_restore_gc,
        remote,
        push_fetch_pull,
        bundle,
        import_mlflow,
        config,
        ui,
        review_check,
        bisect,
        ci,
        lineage,
    ):
        for command in module.commands:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="gitruns")
