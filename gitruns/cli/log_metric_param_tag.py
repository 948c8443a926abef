"""``gitruns log-metric / log-param / set-tag``: log from a shell script under ``record``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun


@contextmanager
def _joined_run() -> Iterator[ActiveRun]:
    """The run ``gitruns record`` is recording, joined for one call (its own journal)."""
    from gitruns.errors import RunStateError
    from gitruns.recording.start import attach_to_recorded_run

    run = attach_to_recorded_run()
    if run is None:
        raise RunStateError(
            "not inside a recorded run",
            "use this inside a command run by 'gitruns record -- ...'",
        )
    try:
        yield run
    finally:
        run.end()


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
    from gitruns.recording.staging import last_logged_step

    try:
        number = float(value)
    except ValueError:
        raise InvalidInputError(
            f"metric '{key}' value {value!r} is not a number", "pass a number"
        ) from None
    with _joined_run() as run:
        if step is None:
            step = last_logged_step(run.run_dir, key) + 1
        run.log_metric(key, number, step=step)


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

    with _joined_run() as run:
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
    with _joined_run() as run:
        run.set_tag(key, value)


commands = [log_metric, log_param, set_tag]
