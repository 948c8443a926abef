"""Shared fixtures. Every test runs with its own HOME and git config, away from the user's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pygit2
import pytest
from hypothesis import settings

import gitruns.recording.experiment
import gitruns.recording.stack

# Shared, loaded machines: no per-example deadline. In CI, derandomised so that a run is
# reproducible and a submission never fails on a different random draw than the last one.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


GIT_IDENTITY = {"user.name": "Test User", "user.email": "test@example.com"}


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Scrub GIT_*/GITRUNS_* variables and COLUMNS (pytest-xdist sets it: output widths must
    not depend on how the suite runs); point HOME, git and libgit2 at an empty config."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("GIT_", "GITRUNS_")) or name in ("COLUMNS", "LINES"):
            monkeypatch.delenv(name)
    # pytest-xdist workers have COLUMNS=80: `gitruns ls` would narrow its tables to it
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    levels = pygit2.enums.ConfigLevel
    saved = {
        level: pygit2.settings.search_path[level]
        for level in (levels.GLOBAL, levels.XDG, levels.SYSTEM)
    }
    pygit2.settings.search_path[levels.GLOBAL] = str(home)
    pygit2.settings.search_path[levels.XDG] = str(home / ".config")
    pygit2.settings.search_path[levels.SYSTEM] = str(home / "nosystem")
    yield home
    for level, value in saved.items():
        pygit2.settings.search_path[level] = value
    for run in list(gitruns.recording.stack._active):
        gitruns.recording.stack.forget_run(run)
    gitruns.recording.experiment.set_experiment(None)  # the process-wide default


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run the real git CLI and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh repository with one commit, as the current directory."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q")
    (path / "train.py").write_text("print('training')\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "initial")
    monkeypatch.chdir(path)
    return path


def gitruns_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``gitruns`` command in a subprocess, on an 80-column "terminal"
    (COLUMNS=80 unless ``env`` says otherwise), whatever terminal runs the tests."""
    return subprocess.run(
        [sys.executable, "-m", "gitruns", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        input=input,
        check=False,
    )


def fsck(path: Path) -> None:
    git(path, "fsck", "--strict", "--no-dangling")


def git_before_batch_command(folder: Path) -> str:
    """A PATH on which `git` is the real one, except that it refuses `--batch-command` as
    git before 2.36 does (usage, exit status 129)."""
    return git_on_batch_command(
        folder, lambda real: '{ echo "usage: git cat-file" >&2; exit 129; }'
    )


def git_on_batch_command(folder: Path, then: Callable[[str], str]) -> str:
    """A PATH on which `git` is the real one, except that a call with `--batch-command`
    (or `--batch-command=<format>`) runs the shell group ``then(path of the real git)``
    instead."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True)
    folder.mkdir()
    shim = folder / "git"
    shim.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do\n'
        f'  case "$arg" in --batch-command|--batch-command=*) {then(real.stdout.strip())};; esac\n'
        "done\n"
        f'exec {real.stdout.strip()} "$@"\n'
    )
    shim.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"
