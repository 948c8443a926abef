"""``gitruns push`` starts as few git processes as it can and keeps every check: refs read
from git's files (no ``git for-each-ref`` where they are plain), no ``git rev-list`` when
the runs' code commits are published branch tips, and still the same refusals. Real
clones of a real bare remote; each git process gitruns starts is logged by a PATH shim that
runs the real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _sharing_helpers import logging_git, make_run, make_team, runs_of
from conftest import fsck, git, git_before_batch_command, gitruns_cli

from gitruns.sharing.porcelain import parse_push


def _subcommands(log: Path) -> list[str]:
    """The git subcommand of each logged call (the word after the --git-dir=... option)."""
    words = [line.split() for line in log.read_text().splitlines()]
    return [next(w for w in call if not w.startswith("-")) for call in words]


def _push_logged(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``gitruns push`` in ``repo`` through a logging git: its result and the git
    subcommands it ran."""
    path, log = logging_git(tmp_path / "shim")
    monkeypatch.setenv("PATH", path)
    return gitruns_cli(repo, "push"), _subcommands(log)


def test_a_push_from_a_clone_lists_no_refs_and_walks_no_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    head = team.alice / ".git" / "refs" / "remotes" / "origin" / "HEAD"
    assert head.read_text().startswith("ref: ")  # the clone's symbolic ref is read too
    done, called = _push_logged(team.alice, tmp_path, monkeypatch)
    assert done.returncode == 0, done.stderr
    assert set(runs_of(team.remote)) == ids
    assert "push" in called
    assert "for-each-ref" not in called and "rev-list" not in called, called
    fsck(team.remote)


def test_code_behind_a_published_tip_is_still_walked_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's code commit that is an ancestor of the remote's branch (not its tip) is
    published: git rev-list says so, and the push goes."""
    team = make_team(tmp_path)
    (team.alice / "train.py").write_text("print('v2')\n")
    git(team.alice, "commit", "-q", "-am", "v2")
    run_id = make_run(team.alice, "on-v2")
    (team.alice / "train.py").write_text("print('v3')\n")
    git(team.alice, "commit", "-q", "-am", "v3")
    git(team.alice, "push", "-q", "origin", "main")
    done, called = _push_logged(team.alice, tmp_path, monkeypatch)
    assert done.returncode == 0, done.stderr
    assert list(runs_of(team.remote)) == [run_id]
    assert "rev-list" in called
    fsck(team.remote)


@pytest.mark.parametrize("packed", [False, True])
def test_unpublished_code_is_still_refused_with_refs_read_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packed: bool
) -> None:
    team = make_team(tmp_path)
    published = make_run(team.alice, "published")
    assert gitruns_cli(team.alice, "push").returncode == 0
    git(team.alice, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    (team.alice / "train.py").write_text("print('secret idea')\n")
    git(team.alice, "commit", "-q", "-am", "unpushed work")
    secret = make_run(team.alice, "on-local-code")
    if packed:
        git(team.alice, "pack-refs", "--all")
    refused, called = _push_logged(team.alice, tmp_path, monkeypatch)
    assert refused.returncode == 1 and "--allow-unpublished-code" in refused.stderr
    assert secret in refused.stderr and published not in refused.stderr
    assert list(runs_of(team.remote)) == [published]
    assert "for-each-ref" not in called and "rev-list" in called


def test_refs_that_are_not_plain_are_listed_by_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote-tracking branch whose name the file reader leaves to git: the push lists
    the refs with git for-each-ref and does the same."""
    team = make_team(tmp_path)
    run_id = make_run(team.alice)
    main = git(team.alice, "rev-parse", "main").strip()
    git(team.alice, "update-ref", "refs/remotes/origin/odd+name", main)
    done, called = _push_logged(team.alice, tmp_path, monkeypatch)
    assert done.returncode == 0, done.stderr
    assert list(runs_of(team.remote)) == [run_id]
    assert "for-each-ref" in called


def test_one_cat_file_reads_the_code_and_the_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs' commits (their code) before the push and their artifacts.yaml after it
    go through one `git cat-file --batch-command`; with a git that refuses the option, a
    process a pass does the same."""
    team = make_team(tmp_path)
    ids = {make_run(team.alice, f"r{i}") for i in range(3)}
    path, log = logging_git(tmp_path / "shim")
    monkeypatch.setenv("PATH", path)
    done = gitruns_cli(team.alice, "push")
    called = _subcommands(log)
    assert done.returncode == 0, done.stderr
    assert called.count("cat-file") == 1, called
    assert "--batch-command" in log.read_text()
    monkeypatch.setenv("PATH", git_before_batch_command(tmp_path / "old-git"))
    more = {make_run(team.alice, f"s{i}") for i in range(2)}
    done = gitruns_cli(team.alice, "push")
    assert done.returncode == 0, done.stderr
    assert set(runs_of(team.remote)) == ids | more
    (team.alice / "train.py").write_text("print('secret idea')\n")
    git(team.alice, "commit", "-q", "-am", "unpushed work")
    secret = make_run(team.alice, "on-local-code")
    refused = gitruns_cli(team.alice, "push")
    assert refused.returncode == 1 and secret in refused.stderr
    assert secret not in runs_of(team.remote)
    fsck(team.remote)


def test_an_annotated_run_is_followed_to_its_code(tmp_path: Path) -> None:
    """A run tagged after it ran (an annotation commit on top): the code check follows it
    down to the run commit, so published code passes and unpublished code is refused."""
    team = make_team(tmp_path)
    published = make_run(team.alice, "published")
    assert gitruns_cli(team.alice, "tag", published, "seen=yes").returncode == 0
    (team.alice / "train.py").write_text("print('secret idea')\n")
    git(team.alice, "commit", "-q", "-am", "unpushed work")
    secret = make_run(team.alice, "on-local-code")
    assert gitruns_cli(team.alice, "tag", secret, "seen=yes").returncode == 0
    message = git(team.alice, "log", "-1", "--format=%B", f"refs/runs/{secret}")
    assert "Gitruns-Annotation:" in message
    refused = gitruns_cli(team.alice, "push")
    assert refused.returncode == 1 and secret in refused.stderr
    assert published not in refused.stderr
    done = gitruns_cli(team.alice, "push", "origin", published)
    assert done.returncode == 0, done.stderr
    assert list(runs_of(team.remote)) == [published]
    fsck(team.remote)


def test_porcelain_lines_parse_in_one_pass() -> None:
    out = (
        "To ../remote.git\n"
        "*\trefs/runs/a:refs/runs/a\t[new reference]\n"
        "=\trefs/runs/b:refs/runs/b\t[up to date]\r\n"
        "!\trefs/runs/c:refs/runs/c\t[rejected] (non-fast-forward)\n"
        "!\trefs/runs/d:refs/runs/d\t[remote rejected] (pre-receive hook declined)\n"
        " \trefs/runs/e:refs/runs/e\t1234567..89abcde\n"
        "Done\n"
    )
    updates = parse_push(out)
    assert [(u.flag, u.dst, u.summary, u.reason) for u in updates] == [
        ("*", "refs/runs/a", "[new reference]", ""),
        ("=", "refs/runs/b", "[up to date]", ""),
        ("!", "refs/runs/c", "[rejected]", "non-fast-forward"),
        ("!", "refs/runs/d", "[remote rejected]", "pre-receive hook declined"),
        (" ", "refs/runs/e", "1234567..89abcde", ""),
    ]
    assert updates[3].rejected_by_remote and not updates[2].rejected_by_remote
    assert all(u.src == u.dst for u in updates)
