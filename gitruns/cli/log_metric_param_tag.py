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
    from gitruns.errors import InvalidInputError
    from gitruns.recording.start import joined_recorded_run

    try:
        number = float(value)
    except ValueError:
        raise InvalidInputError(
            f"metric '{key}' value {value!r} is not a number", "pass a number"
        ) from None
    with joined_recorded_run() as run:
        run.log_metric(key, number, step=run.next_step(key) if step is None else step)


@click.command("log-param")
@click.argument("key")
@click.argument("value")
def log_param(key: str, value: str) -> None:
    """Log param KEY=VALUE (typed as YAML: 0.01, true, [1, 2]) to the run being recorded.

    \b
    Example:
      gitruns log-param optimizer adam
    """
    from gitruns.format.yamlio import parse_scalar
    from gitruns.recording.start import joined_recorded_run

    with joined_recorded_run() as run:
        run.log_param(key, parse_scalar(value), source="cli")


@click.command("set-tag")
@click.argument("key")
@click.argument("value")
def set_tag(key: str, value: str) -> None:
    """Set tag KEY=VALUE on the run being recorded.

    \b
    Example:
      gitruns set-tag stage pretrain
    """
    from gitruns.recording.start import joined_recorded_run

    with joined_recorded_run() as run:
        run.set_tag(key, value)


commands = [log_metric, log_param, set_tag]
