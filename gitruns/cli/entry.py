"""The ``gitruns`` program: the logging verbs' plain forms run without click (they are
called once a step from shell scripts, ``cli.log_argv``); everything else is click's."""

from __future__ import annotations

import sys


def main() -> None:
    from gitruns.cli.log_argv import try_fast_path

    if try_fast_path(sys.argv[1:]):
        return
    from gitruns.cli.main import main as click_main

    click_main()
