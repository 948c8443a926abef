"""Runs over real network transports on 127.0.0.1: git daemon and smart HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from _sharing_helpers import (
    git_daemon,
    have_http_backend,
    http_backend,
    make_run,
    make_team,
    runs_of,
    store,
)
from conftest import fsck, git, gitruns_cli

from gitruns.sharing import AuthenticationError, fetch_runs, pull_runs, push_runs


def _exchange(tmp_path: Path, url: str) -> None:
    """Two clones of ``url``: alice pushes runs, bob pulls them, then by plain git."""
    team = make_team(tmp_path, url=url)
    first = make_run(team.alice, "over-the-wire")
    push_runs(store(team.alice), "origin")
    _fetched, report = pull_runs(store(team.bob), "origin")
    assert report.added == [first]
    for clone in (team.alice, team.bob):
        gitruns_cli(clone, "remote", "setup")
    second = make_run(team.alice, "plain-git")
    git(team.alice, "push", "-q")
    git(team.bob, "fetch", "-q")
    assert set(runs_of(team.bob, "refs/remote-runs/origin/")) == {first, second}
    fsck(team.bob)


def test_git_daemon(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with git_daemon(served) as base_url:
        _exchange(served, f"{base_url}/remote.git")


@pytest.mark.skipif(not have_http_backend(), reason="git-http-backend is not installed")
def test_smart_http(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with http_backend(served) as base_url:
        _exchange(served, f"{base_url}/remote.git")


@pytest.mark.skipif(not have_http_backend(), reason="git-http-backend is not installed")
def test_authentication_failure_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    make_run(team.alice)
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("GIT_ASKPASS", "")
    with http_backend(tmp_path, user="owner", password="secret") as base_url:
        git(team.alice, "remote", "add", "locked", f"{base_url}/remote.git")
        with pytest.raises(AuthenticationError) as caught:
            fetch_runs(store(team.alice), "locked")
        assert "credential helper" in caught.value.hint
        with pytest.raises(AuthenticationError):
            push_runs(store(team.alice), "locked", allow_unpublished_code=True)
        cli = gitruns_cli(team.alice, "push", "locked", "--allow-unpublished-code")
        assert cli.returncode == 1 and "refused the credentials" in cli.stderr
        git(
            team.alice,
            "remote",
            "set-url",
            "locked",
            f"http://owner:secret@{base_url[7:]}/remote.git",
        )
        report = push_runs(store(team.alice), "locked", allow_unpublished_code=True)
        assert len(report.pushed) == 1
