"""``gitruns fetch [REMOTE]`` without click (cli/fetch_argv.py): the same lines, exit codes and
errors as click's command, which runs the same body; anything else is click's. Real remotes,
the real CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _sharing_helpers import fast_and_click, make_run, make_team
from conftest import git, gitruns_cli

from gitruns.cli.fetch_argv import _plain_call


def test_fetch_says_the_same_with_and_without_click(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    for i in range(3):
        make_run(team.alice, f"r{i}")
    assert gitruns_cli(team.alice, "push").returncode == 0
    copy = tmp_path / "bob-copy"
    shutil.copytree(team.bob, copy, symlinks=True)
    git(team.bob, "remote", "add", "up", str(team.remote))
    git(copy, "remote", "add", "up", str(team.remote))
    for argv in (["fetch"], ["fetch", "up"], ["fetch", "origin"], ["fetch", "nosuch"]):
        fast, slow = fast_and_click(team.bob, copy, *argv)
        assert fast == slow, argv
    fast, _ = fast_and_click(team.bob, copy, "fetch", "nosuch")
    assert fast[0] == 1 and str(fast[2]).startswith("gitruns: error: ")
    assert "Traceback" not in str(fast[2])


def test_first_fetch_reports_new_runs_on_the_fast_path(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    done = gitruns_cli(team.bob, "fetch")
    assert done.returncode == 0
    assert done.stderr == "fetched from origin: 1 new, 0 updated, 0 gone\n"


@pytest.mark.parametrize(
    ("argv", "plain"),
    [
        (["fetch"], True),
        (["fetch", "upstream"], True),
        (["fetch", "--help"], False),
        (["fetch", "-h"], False),
        (["fetch", "a", "b"], False),
        (["fetch", ""], False),
        (["--debug", "fetch"], False),
        (["-C", "x", "fetch"], False),
        (["pull"], False),
    ],
)
def test_only_plain_forms_take_the_fast_path(argv: list[str], plain: bool) -> None:
    assert (_plain_call(argv) is not None) == plain


def test_the_fast_path_does_not_import_click(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    probe = (
        "import atexit, sys\nsys.argv = ['gitruns', 'fetch']\nfrom gitruns.cli.entry import main\n"
        "atexit.register(lambda: print(sorted(m for m in ('click', 'pygit2', 'yaml')"
        " if m in sys.modules)))\nmain()\n"  # (the program ends in main: no teardown)
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=team.bob, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
