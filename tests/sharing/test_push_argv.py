"""``gitruns push [REMOTE]`` without click (cli/push_argv.py): the same lines, exit codes and
errors as click's command, which runs the same body; anything else is click's. Real remotes,
the real CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _sharing_helpers import fast_and_click, make_run, make_team
from conftest import git, gitruns_cli

from gitruns.cli.push_argv import _plain_call


def _twins(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two identical clones, each pushing to its own identical remote: (repo, copy, remote
    of the repo)."""
    team = make_team(tmp_path)
    for i in range(3):
        make_run(team.alice, f"r{i}")
    copy, copy_remote = tmp_path / "alice-copy", tmp_path / "remote-copy.git"
    shutil.copytree(team.alice, copy, symlinks=True)
    shutil.copytree(team.remote, copy_remote, symlinks=True)
    git(copy, "remote", "set-url", "origin", str(copy_remote))
    return team.alice, copy, team.remote


def test_push_says_the_same_with_and_without_click(tmp_path: Path) -> None:
    repo, copy, _ = _twins(tmp_path)
    for argv in (["push"], ["push"], ["push", "origin"], ["push", "nosuch"]):
        fast, slow = fast_and_click(repo, copy, *argv)
        assert fast == slow, argv
    first_new = gitruns_cli(repo, "push")  # nothing left to push: 0 new
    assert first_new.stdout == "" and "0 run(s)" in first_new.stderr
    fast, _ = fast_and_click(repo, copy, "push", "nosuch")
    assert fast[0] == 1 and str(fast[2]).startswith("gitruns: error: no such remote 'nosuch'")
    assert "Traceback" not in str(fast[2])


def test_refusals_are_the_same_with_and_without_click(tmp_path: Path) -> None:
    """A run on unpushed code: exit 1, the same words (but for the run's id)."""
    repo, copy, _ = _twins(tmp_path)
    for side in (repo, copy):
        (side / "train.py").write_text("print('changed')\n")
        git(side, "commit", "-qam", "unpushed")
    for side in (repo, copy):
        make_run(side, "on-unpushed-code")
    fast, slow = fast_and_click(repo, copy, "push")
    assert fast[0] == 1 and "on no branch of 'origin'" in str(fast[2])
    uuid = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
    assert [fast[0], uuid.sub("ID", str(fast[2]))] == [slow[0], uuid.sub("ID", str(slow[2]))]


def test_a_push_reports_each_new_run_on_the_fast_path(tmp_path: Path) -> None:
    repo, _, remote = _twins(tmp_path)
    done = gitruns_cli(repo, "push")
    assert done.returncode == 0, done.stderr
    ids = git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/runs/").split()
    assert done.stdout == "".join(f"new      {i}\n" for i in ids)
    assert done.stderr == "pushed 3 run(s) to origin; 0 already there\n"
    on_remote = git(remote, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/runs/")
    assert on_remote.split() == ids


@pytest.mark.parametrize(
    ("argv", "plain"),
    [
        (["push"], True),
        (["push", "upstream"], True),
        (["push", "--help"], False),
        (["push", "-h"], False),
        (["push", "origin", "run1"], False),
        (["push", "--allow-unpublished-code"], False),
        (["push", ""], False),
        (["--debug", "push"], False),
        (["fetch"], False),
    ],
)
def test_only_plain_forms_take_the_fast_path(argv: list[str], plain: bool) -> None:
    assert (_plain_call(argv) is not None) == plain


def test_the_fast_path_does_not_import_click(tmp_path: Path) -> None:
    repo, _, _ = _twins(tmp_path)
    probe = (
        "import atexit, sys\nsys.argv = ['gitruns', 'push']\nfrom gitruns.cli.entry import main\n"
        "atexit.register(lambda: print(sorted(m for m in ('click', 'pygit2', 'yaml')"
        " if m in sys.modules)))\nmain()\n"  # (the program ends in main: no teardown)
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
