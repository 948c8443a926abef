"""How ``gitruns record`` ends: as the program it skips the interpreter's teardown but still
runs exit handlers, flushes its output and returns the command's exit code; driven from
Python (click's CliRunner) it returns like any click command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_the_program_runs_exit_handlers_and_keeps_the_exit_code(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "handler-ran"
    program = textwrap.dedent(
        f"""
        import atexit, sys
        atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
        sys.argv = ["gitruns", "record", "--no-system-metrics", "--", sys.executable, "-c",
                    "print('out'); import sys; sys.exit(7)"]
        from gitruns.cli.entry import main
        main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert "FAILED" in done.stderr and done.stderr.endswith("\n")
    assert marker.read_text() == "yes"


def test_driven_from_python_it_returns(repo: Path) -> None:
    # In a process of its own: invoking the shared click group changes its state (the help
    # option it caches) for later tests of the same process.
    program = textwrap.dedent(
        """
        import sys
        from click.testing import CliRunner
        from gitruns.cli.main import cli
        argv = ["record", "--no-system-metrics", "--", sys.executable, "-c",
                "import sys; sys.exit(3)"]
        result = CliRunner().invoke(cli, argv)
        print("returned", result.exit_code, "recording run" in result.output)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "returned 3 True\n", done.stderr
