"""The CLI loads a command's module only when needed; nothing is lost by it.

Import-graph checks, not timings: what `import gitruns`, `gitruns --help` and a verb load.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gitruns
from gitruns.cli.main import COMMAND_MODULES

CLI_DIR = Path(__file__).resolve().parents[1] / "gitruns" / "cli"
HEAVY = ("pygit2", "yaml", "jsonschema", "psutil", "tabulate")


def _loaded_after(code: str, *argv: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has loaded after running ``code``."""
    body = textwrap.indent(code, "    ")
    probe = (
        f"import sys\nsys.argv = ['gitruns', *{list(argv)!r}]\ntry:\n{body}\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(done.stdout.splitlines()[-1])  # a printed list of names


def test_every_command_module_is_listed() -> None:
    modules = {
        p.stem
        for p in CLI_DIR.glob("*.py")
        if "\ncommands = " in p.read_text()  # a module that defines commands
    }
    assert modules == set(COMMAND_MODULES.values())
    for module_name in modules:
        module = importlib.import_module(f"gitruns.cli.{module_name}")
        for command in module.commands:
            assert COMMAND_MODULES.get(command.name) == module_name, command.name


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitruns", "--help"], capture_output=True, text=True, check=True
    )
    listed = done.stdout.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("  ")]
    assert names == sorted(COMMAND_MODULES)


def test_import_gitruns_loads_no_git() -> None:
    assert _loaded_after("import gitruns") == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["log-metric", "--help"]])
def test_help_loads_no_git(argv: list[str]) -> None:
    code = "from gitruns.cli.main import main\nmain()"
    assert "pygit2" not in _loaded_after(code, *argv)


def test_a_verb_loads_only_its_own_module() -> None:
    probe = textwrap.dedent(
        """
        import sys
        sys.argv = ["gitruns", "log-metric", "--help"]
        from gitruns.cli.main import main
        try:
            main()
        except SystemExit:
            pass
        print(sorted(m for m in sys.modules if m.startswith("gitruns.cli.")))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    loaded = eval(done.stdout.splitlines()[-1])
    assert loaded == ["gitruns.cli.errors", "gitruns.cli.log_metric_param_tag", "gitruns.cli.main"]


@pytest.mark.parametrize("verb", ["ls", "show", "fetch", "push"])
def test_the_program_loads_record_argv_only_for_record(verb: str) -> None:
    """``gitruns <verb> --help`` through the program's entry: record's argv reader (a few
    ms of imports and patterns) is loaded by ``record`` alone."""
    probe = textwrap.dedent(
        f"""
        import sys
        sys.argv = ["gitruns", {verb!r}, "--help"]
        from gitruns.cli.entry import main
        try:
            main()
        except SystemExit:
            pass
        print("gitruns.cli.record_argv" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "False"


def test_a_cold_ls_loads_no_process_pool_nor_unused_modules(repo: Path) -> None:
    """A cold ``ls`` (no cache: the build forks its workers with os.fork) imports none of
    what it does not use: every module is one CPU's time before the build starts."""
    for i in range(3):
        with gitruns.start_run(name=f"r{i}", params={"lr": 0.1 * i}) as run:
            run.log_metric("acc", 0.5)
    probe = textwrap.dedent(
        """
        import sys
        from gitruns.query import cache
        cache.PARALLEL_MIN_RUNS, cache.BATCH_RUNS = 2, 1  # the parallel build, at test size
        sys.argv = ["gitruns", "ls", "--filter", "params.lr > 0.05", "--format", "csv"]
        from gitruns.cli.entry import main
        try:
            main()
        except SystemExit:
            pass
        print(sorted(sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo)
    lines = done.stdout.splitlines()
    assert [line.split(",")[1] for line in lines[1:-1]] == ["r2", "r1"], done.stderr
    assert (repo / ".git" / "gitruns" / "cache.sqlite").exists()
    loaded = set(eval(lines[-1]))
    unused = {
        "multiprocessing",
        "concurrent.futures",
        "logging",
        "pickle",
        "tempfile",
        "gitruns.recording.artifacts",
        "gitruns.recording.finalize",
        "mimetypes",
    }
    assert loaded & unused == set()
