"""``gitruns fetch`` without a terminal runs ``git fetch -q`` (git's line a ref is nobody's to
read), and still names every run the remote rewrote: git -q names none, so a fetch that
failed without a fatal error is heard again aloud. With a terminal (progress shown), git
speaks from the start. Real remotes, real git."""

from __future__ import annotations

from pathlib import Path

from _sharing_helpers import logging_git, make_run, make_team, runs_of
from conftest import git, gitruns_cli

from gitruns.sharing.fetch import fetch_runs
from gitruns.sharing.lightrepo import open_for_transfer


def _fetches(log: Path) -> list[list[str]]:
    calls = [line.split() for line in log.read_text().splitlines()]
    return [call for call in calls if "fetch" in call]


def _rewrite(remote: Path, run_id: str) -> None:
    tree = git(remote, "rev-parse", f"refs/runs/{run_id}^{{tree}}").strip()
    forged = git(remote, "commit-tree", tree, "-m", "rewritten").strip()
    git(remote, "update-ref", f"refs/runs/{run_id}", forged)


def test_a_quiet_fetch_runs_once_and_a_refusal_is_heard_again(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    first = make_run(team.alice, "first")
    assert gitruns_cli(team.alice, "push").returncode == 0
    path, log = logging_git(tmp_path / "shim")
    done = gitruns_cli(team.bob, "fetch", env={"PATH": path})
    assert done.returncode == 0 and "1 new" in done.stderr, done.stderr
    assert len(_fetches(log)) == 1 and "-q" in _fetches(log)[0]
    ours = runs_of(team.bob, "refs/remote-runs/origin/")[first]
    _rewrite(team.remote, first)
    second = make_run(team.alice, "second")
    assert gitruns_cli(team.alice, "push", "origin", second).returncode == 0
    log.unlink()
    done = gitruns_cli(team.bob, "fetch", env={"PATH": path})
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stderr  # the second run, brought by the quiet fetch
    assert f"refused  refs/remote-runs/origin/{first}: rewritten on the remote" in done.stderr
    fetches = _fetches(log)
    assert len(fetches) == 2 and "-q" in fetches[0] and "-q" not in fetches[1]
    assert runs_of(team.bob, "refs/remote-runs/origin/") == {
        first: ours,
        second: runs_of(team.alice)[second],
    }


def test_with_progress_shown_git_speaks_from_the_start(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    assert gitruns_cli(team.alice, "push").returncode == 0
    assert gitruns_cli(team.bob, "fetch").returncode == 0
    _rewrite(team.remote, run_id)
    heard: list[bytes] = []
    report = fetch_runs(open_for_transfer(team.bob), "origin", echo=heard.append)
    assert [ref for ref, _ in report.refused] == [f"refs/remote-runs/origin/{run_id}"]
    assert b"[rejected]" in b"".join(heard)


def test_an_unreachable_remote_is_tried_once(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.bob, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    path, log = logging_git(tmp_path / "shim")
    done = gitruns_cli(team.bob, "fetch", env={"PATH": path})
    assert done.returncode == 1
    assert done.stderr.startswith("gitruns: error: cannot reach remote 'origin'"), done.stderr
    assert len(_fetches(log)) == 1
