"""``gitruns log-metric / log-param / set-tag`` without click: a shell script's fast path.

A training script may call ``gitruns log-metric`` once a step, so the call's start-up is
its cost: importing click and building the command group costs about as much as the
journal write itself. :func:`try_fast_path` takes only the plain forms
(``log-metric KEY VALUE [--step N]``, ``log-param KEY VALUE``, ``set-tag KEY VALUE``)
and leaves everything else (``--help``, a value that starts with ``-``, a bad step, any
global option) to click, so help and usage errors stay click's own. The command bodies
below are the ones the click commands run (``log_metric_param_tag``), and errors go
through the same handler (``cli.errors.run_guarded``), loaded only when one happens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def log_metric(key: str, value: str, step: int | None) -> None:
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


def log_param(key: str, value: str) -> None:
    from gitruns.format.yamlio import parse_scalar
    from gitruns.recording.start import joined_recorded_run

    with joined_recorded_run() as run:
        run.log_param(key, parse_scalar(value), source="cli")


def set_tag(key: str, value: str) -> None:
    from gitruns.recording.start import joined_recorded_run

    with joined_recorded_run() as run:
        run.set_tag(key, value)


def _plain_call(args: Sequence[str]) -> Callable[[], None] | None:
    """The call ``args`` (after ``gitruns``) asks for, when click would read it the same way."""
    if len(args) < 3 or any(not arg or arg.startswith("-") for arg in args[1:3]):
        return None
    verb, key, value, rest = args[0], args[1], args[2], list(args[3:])
    if verb == "log-metric":
        if rest and rest[0].startswith("--step="):
            rest = ["--step", rest[0].removeprefix("--step="), *rest[1:]]
        if not rest:
            return lambda: log_metric(key, value, None)
        if len(rest) == 2 and rest[0] == "--step" and rest[1].isascii() and rest[1].isdigit():
            step = int(rest[1])  # digits only: what click's IntRange(min=0) reads the same
            return lambda: log_metric(key, value, step)
        return None
    if rest:
        return None
    if verb == "log-param":
        return lambda: log_param(key, value)
    if verb == "set-tag":
        return lambda: set_tag(key, value)
    return None


def try_fast_path(args: Sequence[str]) -> bool:
    """Run ``args`` here and return True, or return False for click to parse them."""
    from gitruns.cli.outside_click import run_when_plain

    return run_when_plain(_plain_call(args))
