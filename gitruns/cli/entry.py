"""The ``gitruns`` program: the logging verbs' plain forms run without click (they are
called once a step from shell scripts, ``cli.log_argv``), and so do a plain ``gitruns
fetch [REMOTE]`` (``cli.fetch_argv``), a plain ``gitruns push [REMOTE]`` (``cli.push_argv``)
and ``record``'s plain forms (its start-up comes before the command's,
``cli.record_argv``); everything else is click's."""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

# True once main() runs: gitruns is the program, so a command may end the process itself
# (`record` skips the interpreter's teardown); false when click is driven from Python.
running_as_program = False
# `record`'s allocations between two collections of the youngest objects (Python's: 700)
RECORD_GC_THRESHOLD = 50_000


def main() -> None:
    global running_as_program
    running_as_program = True
    from gitruns.cli.log_argv import try_fast_path

    if try_fast_path(sys.argv[1:]):
        return
    if sys.argv[1:2] in (["fetch"], ["push"]):
        # A transfer's imports and its lists of refs and objects (tens of thousands of
        # tuples and strings, no cycle among them) made 20-odd collections of the youngest
        # objects for nothing: 1.5-2 ms of CPU a push or fetch (issue 16 part 5).
        gc.set_threshold(RECORD_GC_THRESHOLD)
    if sys.argv[1:2] == ["fetch"]:  # before record's module, which a fetch does not need
        from gitruns.cli.fetch_argv import try_fast_path as try_fetch_fast_path

        if try_fetch_fast_path(sys.argv[1:]):
            _exit_after_transfer()
    if sys.argv[1:2] == ["push"]:
        from gitruns.cli.push_argv import try_fast_path as try_push_fast_path

        if try_push_fast_path(sys.argv[1:]):
            _exit_after_transfer()
    if sys.argv[1:2] == ["record"]:
        # Loading the recorder makes some 20,000 objects and next to no garbage; the cyclic
        # collector's 20-odd passes over them cost 4-6 ms of CPU before and beside the
        # command (bench/bench_startup.py). With this threshold it makes none then, and
        # still collects in a recorder that runs for days.
        gc.set_threshold(RECORD_GC_THRESHOLD)
        from gitruns.cli.record_argv import try_record_fast

        if try_record_fast(sys.argv[1:]):
            return
    from gitruns.cli.main import main as click_main

    click_main()


def _exit_after_transfer() -> NoReturn:
    """End a plain push or fetch that went well without the interpreter's teardown: freeing
    every module and the lists of refs and ids of thousands of runs cost 4-5 ms of CPU
    (16-19 million instructions, at 1,000 and 10,000 runs alike). What a normal exit still
    does (join threads, exit handlers, flush the streams) is done, as after ``record``."""
    from gitruns.cli.record_argv import exit_at_once

    exit_at_once(0)
