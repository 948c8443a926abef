"""A push or fetch finds a plainly normal repository in Python (``sharing.discovery``), with
the answer ``git rev-parse --absolute-git-dir --show-toplevel`` gives, and leaves every
other layout to git: linked worktrees, ``.git`` files, bare repositories, ``GIT_DIR`` and
other variables, ``core.worktree``/``core.bare``, includes, extensions, a repository owned
by another user (refused exactly as git refuses it). Real repositories, real git."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _sharing_helpers import logging_git, make_run, make_team, runs_of
from conftest import git, gitruns_cli

from gitruns.sharing.discovery import plain_worktree
from gitruns.sharing.lightrepo import LightRepo, open_for_transfer


def _gits_answer(start: Path) -> tuple[str, str] | None:
    """What git answers in ``start``, with the environment lightrepo gives it."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    done = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir", "--show-toplevel"],
        cwd=start,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = done.stdout.splitlines()
    return (lines[0], lines[1]) if done.returncode == 0 and len(lines) == 2 else None


def test_a_plain_worktree_is_found_as_git_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    deep = team.bob / "src" / "pkg"
    deep.mkdir(parents=True)
    (tmp_path / "link").symlink_to(team.bob)
    starts = [team.bob, team.bob / "src", deep, tmp_path / "link" / "src"]
    for start in starts:
        assert plain_worktree(str(start)) == _gits_answer(start) is not None, start
    monkeypatch.chdir(deep)
    assert plain_worktree("..") == _gits_answer(team.bob)
    monkeypatch.setenv("GIT_SSL_CAINFO", "/nowhere")  # transport only: still plain
    assert plain_worktree(str(deep)) == _gits_answer(deep)


def test_a_fetch_in_a_plain_clone_starts_no_rev_parse(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    path, log = logging_git(tmp_path / "shim")
    done = gitruns_cli(team.bob, "fetch", env={"PATH": path})
    assert done.returncode == 0, done.stderr
    assert set(runs_of(team.bob, "refs/remote-runs/origin/")) == {run_id}
    started = log.read_text().splitlines()
    assert not any(" rev-parse " in f" {line} " for line in started), started
    assert any("fetch" in line for line in started)


def _linked_worktree(team_repo: Path, tmp_path: Path) -> Path:
    git(team_repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    return tmp_path / "wt"


def _separate_git_dir(team_repo: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "separate"
    git(
        tmp_path,
        "clone",
        "-q",
        "--separate-git-dir",
        str(tmp_path / "sep.git"),
        str(team_repo),
        str(repo),
    )
    assert (repo / ".git").is_file()
    return repo


def _set(key: str, value: str) -> Callable[[Path, Path], Path]:
    def layout(repo: Path, tmp_path: Path) -> Path:
        git(repo, "config", key, value)
        return repo

    return layout


def _config_text(text: str) -> Callable[[Path, Path], Path]:
    def layout(repo: Path, tmp_path: Path) -> Path:
        with open(repo / ".git" / "config", "a") as config:
            config.write(text)
        return repo

    return layout


def _looks_like_a_repository(repo: Path, tmp_path: Path) -> Path:
    inner = repo / "data"
    inner.mkdir()
    (inner / "HEAD").write_text("not a repository, but git might take it for one\n")
    return inner


def _inside_git_dir(repo: Path, tmp_path: Path) -> Path:
    return repo / ".git" / "refs"


def _empty_git_folder(repo: Path, tmp_path: Path) -> Path:
    inner = repo / "vendored"
    (inner / ".git").mkdir(parents=True)  # not a repository: git looks further up
    return inner


# Layouts git may accept but this reader leaves to git; each returns where to start.
LEFT_TO_GIT: dict[str, Callable[[Path, Path], Path]] = {
    "linked worktree": _linked_worktree,
    ".git file": _separate_git_dir,
    "core.worktree": _set("core.worktree", "/tmp"),
    "core.bare": _set("core.bare", "true"),
    "include": _set("include.path", "/dev/null"),
    "extensions": _config_text("[extensions]\n\tworktreeConfig = true\n"),
    "format version 2": _set("core.repositoryformatversion", "2"),
    "header and key on one line": _config_text("[core] bare = true\n"),
    "continued value": _config_text("[user]\n\tname = a\\\n"),
    "a folder git might take for a repository": _looks_like_a_repository,
    "inside the git dir": _inside_git_dir,
    "an empty .git folder": _empty_git_folder,
}


@pytest.mark.parametrize("layout", list(LEFT_TO_GIT))
def test_other_layouts_are_left_to_git(tmp_path: Path, layout: str) -> None:
    """None from the reader, and a transfer opens the repository exactly as before (git's
    answer when it has one, else the full Store or its error)."""
    team = make_team(tmp_path)
    start = LEFT_TO_GIT[layout](team.bob, tmp_path)
    assert plain_worktree(str(start)) is None
    answer = _gits_answer(start)
    if answer is not None and layout != "core.worktree":
        light = open_for_transfer(start)
        assert isinstance(light, LightRepo)
        assert (str(light.git_dir), str(light.workdir)) == answer


@pytest.mark.parametrize(
    "variable", ["GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_TEST_ANYTHING"]
)
def test_variables_that_change_discovery_leave_it_to_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    team = make_team(tmp_path)
    monkeypatch.setenv(variable, str(team.alice / ".git"))
    assert plain_worktree(str(team.bob)) is None
    light = open_for_transfer(team.bob)  # GIT_DIR and GIT_WORK_TREE ignored, as before
    assert isinstance(light, LightRepo) and light.workdir == team.bob.resolve()


def test_no_repository_and_a_bare_one_are_left_to_git(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert plain_worktree(str(team.remote)) is None  # bare: open_store opens it
    assert plain_worktree(str(tmp_path)) is None
    assert plain_worktree(str(tmp_path / "missing")) is None
    assert plain_worktree(str(team.bob / "train.py")) is None  # a file


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_another_users_repository_is_refused_as_git_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    subprocess.run(["chown", "-R", "4242:4242", str(team.bob)], check=True)
    assert plain_worktree(str(team.bob)) is None
    assert _gits_answer(team.bob) is None  # git: "detected dubious ownership"
    done = gitruns_cli(team.bob, "fetch")
    assert done.returncode == 1 and done.stderr.startswith("gitruns: error:"), done.stderr
    assert "Traceback" not in done.stderr
    assert not (team.bob / ".git" / "refs" / "remote-runs").exists()
    monkeypatch.setenv("SUDO_UID", "0")  # root by sudo: git checks SUDO_UID's user instead
    subprocess.run(["chown", "-R", "0:0", str(team.bob)], check=True)
    assert plain_worktree(str(team.bob)) is None
    monkeypatch.delenv("SUDO_UID")
    subprocess.run(["chown", "-R", "4242:4242", str(team.bob)], check=True)
    git(tmp_path, "config", "--global", "--add", "safe.directory", "*")  # now git accepts it
    assert plain_worktree(str(team.bob)) is None  # (still git's to decide)
    done = gitruns_cli(team.bob, "fetch")
    assert done.returncode == 0, done.stderr
    assert set(runs_of(team.bob, "refs/remote-runs/origin/")) == {run_id}
