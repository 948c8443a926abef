"""``gitruns record`` without click: the command's way in, and the body both ways share.

Importing click and building the command costs ``record`` 20-30 ms before its command
can start. :func:`try_record_fast` reads the options of ``record`` itself (each long or
short name with its value as the next word, or ``--name=value``; the flags) up to ``--``
or the first word that is not an option, and leaves everything else to click: ``--help``,
an unknown option, a value that starts with ``-``, joined short forms (``-nbase``), a value
click would refuse (a ``--tag`` without ``=``, a ``--config`` that is not a file, a number
out of range), no command, any global option. Those go through click unchanged, with its
help and usage errors; tests/test_cli_record_argv.py runs every kind of argv both ways and
compares the output, the exit code and the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from gitruns.recorder.recorder import RecordOptions
    from gitruns.recording.git_probe import StartedProbe

# Option word -> the name click gives its value; the repeatable ones collect a list.
_VALUED = {
    "--name": "name",
    "-n": "name",
    "--experiment": "experiment",
    "-e": "experiment",
    "--tag": "tags",
    "-t": "tags",
    "--param": "params",
    "-p": "params",
    "--config": "configs",
    "--note": "notes",
    "--parent": "parents",
    "--input": "inputs",
    "--artifact": "artifacts",
    "--system-interval": "system_interval",
    "--metric-regex": "metric_regexes",
    "--max-output": "max_output",
}
_REPEATABLE = {"tags", "params", "configs", "notes", "parents", "inputs", "artifacts"}
_REPEATABLE |= {"metric_regexes"}
_FLAGS = {
    "--no-system-metrics",
    "--no-argv-params",
    "--no-arg-capture",
    "--autolog",
    "--no-import-metrics",
}
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
DEFAULT_SYSTEM_INTERVAL = 10.0
DEFAULT_MAX_OUTPUT = 2 * 1024 * 1024


class RecordArgv:
    """``record``'s options as click would read them: values by click's parameter name.
    (A plain class: a dataclass costs 0.5 ms of CPU to define, before the command starts.)"""

    __slots__ = ("command", "flags", "lists", "single")

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.single: dict[str, str] = {}  # the last one given wins
        self.lists: dict[str, list[str]] = {k: [] for k in _REPEATABLE}
        self.flags: set[str] = set()


def parse_record_argv(args: Sequence[str]) -> RecordArgv | None:
    """What click would read from ``args`` (after ``gitruns``), or None where click should
    read them itself."""
    if not args or args[0] != "record":
        return None
    parsed = RecordArgv([])
    index = 1
    while index < len(args):
        word = args[index]
        if word == "--":
            index += 1
            break
        if word in _FLAGS:
            parsed.flags.add(word)
            index += 1
            continue
        if not word.startswith("-"):
            break
        name, equals, value = word.partition("=")
        if equals and name.startswith("--") and name in _VALUED:
            index += 1
        elif word in _VALUED and index + 1 < len(args) and not args[index + 1].startswith("-"):
            name, value = word, args[index + 1]
            index += 2
        else:
            return None  # --help, an unknown option, a missing or dash-led value: click's
        key = _VALUED[name]
        if key in _REPEATABLE:
            parsed.lists[key].append(value)
        else:
            parsed.single[key] = value
    parsed.command = list(args[index:])
    if not parsed.command or not _click_accepts(parsed):
        return None
    return parsed


def _click_accepts(parsed: RecordArgv) -> bool:
    """Would click take these values (the checks its option types make)?"""
    for key in ("tags", "params"):
        for pair in parsed.lists[key]:
            name, sep, _ = pair.partition("=")
            if not sep or not name:
                return False
    for path in parsed.lists["configs"]:
        if not os.path.exists(path) or os.path.isdir(path) or not os.access(path, os.R_OK):
            return False
    interval = parsed.single.get("system_interval")
    if interval is not None and (not _DECIMAL.fullmatch(interval) or float(interval) < 0.1):
        return False
    size = parsed.single.get("max_output")
    return size is None or (size.isascii() and size.isdigit() and int(size) >= 1024)


def options_from(parsed: RecordArgv) -> RecordOptions:
    """``RecordOptions`` from what ``parse_record_argv`` read."""
    from gitruns.recorder.recorder import RecordOptions

    flags, lists, single = parsed.flags, parsed.lists, parsed.single
    params = {}
    if lists["params"]:
        from gitruns.format.yamlio import parse_scalar  # PyYAML types the values

        params = {k: parse_scalar(v) for k, v in _pairs(lists["params"])}
    interval = float(single.get("system_interval", DEFAULT_SYSTEM_INTERVAL))
    return RecordOptions(
        command=parsed.command,
        name=single.get("name"),
        experiment=single.get("experiment"),
        tags=dict(_pairs(lists["tags"])),
        params=params,
        configs=[Path(p) for p in lists["configs"]],
        notes=lists["notes"],
        parents=lists["parents"],
        inputs=lists["inputs"],
        artifacts=lists["artifacts"],
        system_interval=None if "--no-system-metrics" in flags else interval,
        parse_argv="--no-argv-params" not in flags,
        capture_args="--no-arg-capture" not in flags,
        max_output_bytes=int(single.get("max_output", DEFAULT_MAX_OUTPUT)),
        metric_regexes=lists["metric_regexes"],
        import_metrics="--no-import-metrics" not in flags,
        autolog="--autolog" in flags,
    )


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(key, value) for key, _, value in (item.partition("=") for item in items)]


def run_record(
    options: RecordOptions, echo: Callable[[str], None], probe: StartedProbe | None = None
) -> int:
    """Record the command (the body of ``gitruns record``); return its exit code.
    ``probe``: the git probe of the repository, started before the modules loaded."""
    from gitruns.recorder.recorder import record, result_summary

    def announce(run_id: str, run_name: str) -> None:
        echo(f"gitruns: recording run {run_id} ({run_name})")

    result = record(
        options,
        stdout=sys.stdout.buffer,
        stderr=sys.stderr.buffer,
        on_start=announce,
        probe=probe,
    )
    for warning in result.warnings:
        echo(f"gitruns: warning: {warning}")
    echo(f"gitruns: {result_summary(result)}")
    return result.exit_code


def try_record_fast(args: Sequence[str]) -> bool:
    """Record here and end the process, or return False for click to parse ``args``."""
    parsed = parse_record_argv(args)
    if parsed is None:
        return False
    from gitruns.cli.outside_click import run_outside_click

    # git answers the probe on the other core while the recorder's modules load (the
    # recorder waits for it after); with --parent the run starts through Store anyway
    probe = None
    if not parsed.lists["parents"]:
        from gitruns.recording.git_probe import start_probe
        from gitruns.recording.repository import ENV_REPO

        probe = start_probe(os.environ.get(ENV_REPO) or os.getcwd())
    exit_at_once(run_outside_click(lambda: run_record(options_from(parsed), _echo, probe)))


def _echo(text: str) -> None:
    # as click.echo(text, err=True): one line, flushed
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def exit_at_once(code: int) -> NoReturn:
    """Exit with ``code`` without the interpreter's teardown (freeing every module and
    object: 20-50 ms after a record, measured in bench/bench_startup.py). The run is
    committed and its files closed: what a normal exit still does is join the threads
    that are not daemons, run the exit handlers and flush the streams, done here."""
    import atexit
    import threading

    for thread in threading.enumerate():
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing can reach it
            stream.flush()
    os._exit(code)
