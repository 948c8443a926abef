"""``gitruns log-metric / log-param / set-tag``: log from a shell script under ``record``."""

from __future__ import annotations

import click


@click.command("log-metric")
@click.argument("key")
@click.argument("value")
@click.option(
    "--step",
    type=click.IntRange(min=0),
    default=None,
    help="Step (default: the key's last step + 1).",
)
def log_metric(key: str, value: str, step: int | None) -> None:
    """Log VALUE of metric KEY to the run being recorded.

    \b
    Example (in a script run with `gitruns record -- ./train.sh`):
      gitruns log-metric loss 0.42 --step 3
    """
    from gitruns.cli import log_argv  # the body the fast path without click runs too

    log_argv.log_metric(key, value, step)


@click.command("log-param")
@click.argument("key")
@click.argument("value")
def log_param(key: str, value: str) -> None:
    """Log param KEY=VALUE (typed as YAML: 0.01, true, [1, 2]) to the run being recorded.

    \b
    Example:
      gitruns log-param optimizer adam
    """
    from gitruns.cli import log_argv

    log_argv.log_param(key, value)


@click.command("set-tag")
@click.argument("key")
@click.argument("value")
def set_tag(key: str, value: str) -> None:
    """Set tag KEY=VALUE on the run being recorded.

    \b
    Example:
      gitruns set-tag stage pretrain
    """
    from gitruns.cli import log_argv

    log_argv.set_tag(key, value)


commands = [log_metric, log_param, set_tag]
