"""Repositories people really have (issue 15, items 10 to 13): superprojects with changed
submodules, read-only checkouts with a crashed run staged, blobless partial clones, and a
failing reference-transaction hook."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _sharing_helpers import make_run
from _store_helpers import run_child, staging_dirs
from conftest import fsck, git, gitruns_cli

import gitruns


def _superproject(tmp_path: Path) -> tuple[Path, Path]:
    library = tmp_path / "library"
    git(tmp_path, "init", "-q", str(library))
    (library / "lib.py").write_text("x = 1\n")
    git(library, "add", "lib.py")
    git(library, "commit", "-q", "-m", "lib")
    project = tmp_path / "project"
    git(tmp_path, "init", "-q", str(project))
    (project / "train.py").write_text("print('training')\n")
    git(project, "add", "train.py")
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "sub")
    git(project, "commit", "-q", "-m", "with a submodule")
    return project, project / "sub"


def _moved_head(sub: Path) -> str:
    (sub / "lib.py").write_text("x = 2\n")
    git(sub, "commit", "-q", "-am", "move on")
    return git(sub, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("change", ["untracked file", "modified file", "moved HEAD", "staged"])
def test_a_superproject_with_a_changed_submodule_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Any submodule change made recording fail: "cannot create blob from '.../sub': it
    is a directory"."""
    project, sub = _superproject(tmp_path)
    monkeypatch.chdir(project)
    recorded_at = git(sub, "rev-parse", "HEAD").strip()
    (project / "train.py").write_text("print('dirty too')\n")
    if change == "untracked file":
        (sub / "scratch.txt").write_text("notes\n")
    elif change == "modified file":
        (sub / "lib.py").write_text("x = 3\n")
    elif change == "moved HEAD":
        recorded_at = _moved_head(sub)
    else:
        recorded_at = _moved_head(sub)
        git(project, "add", "sub")
    result = gitruns_cli(project, "record", "--name", "sub", "--", sys.executable, "train.py")
    assert result.returncode == 0, result.stderr
    run = gitruns.get_run("sub")
    snapshot = run.git["snapshot"]
    assert snapshot is not None
    entry = git(project, "ls-tree", snapshot, "sub").split()
    assert entry[:3] == ["160000", "commit", recorded_at]
    assert "dirty too" in git(project, "show", f"{snapshot}:train.py")
    fsck(project)


def _read_only_mounts(folder: Path) -> bool:
    """Whether this machine lets a test mount a folder read-only in a private namespace."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"'
    probe = subprocess.run(
        ["unshare", "-m", "-r", "sh", "-c", script, str(folder)], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.fixture
def shared_repo(repo: Path) -> Path:
    """A repository with one finished run and one crashed run still staged, which the
    checks then see read-only (a shared checkout, a CI cache)."""
    if shutil.which("unshare") is None or not _read_only_mounts(repo):
        pytest.skip("needs unshare -m -r (user and mount namespaces) for a read-only mount")
    make_run(repo, "finished")
    crashed = run_child(repo, "run = gitruns.start_run(name='crashed')\nos._exit(9)\n")
    assert crashed.returncode == 9
    assert len(staging_dirs(repo)) == 1
    return repo


def as_reader(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``gitruns`` with ``cwd`` mounted read-only (a private mount namespace: writes fail
    with "Read-only file system" whoever runs the test, root included)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    command = [sys.executable, "-m", "gitruns", *args]
    return subprocess.run(
        ["unshare", "-m", "-r", "sh", "-c", script, str(cwd), *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_read_only_repository_with_a_crashed_run_staged_can_be_read(shared_repo: Path) -> None:
    """Every read command failed with PermissionError on owner.lock."""
    assert as_reader(shared_repo, "record", "--", "true").returncode == 1  # really read-only
    listed = as_reader(shared_repo, "ls", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert "finished" in listed.stdout and "Traceback" not in listed.stderr
    for command in (["show", "finished"], ["metrics", "finished", "loss"], ["history", "finished"]):
        result = as_reader(shared_repo, *command)
        assert result.returncode == 0, (command, result.stderr)
    assert len(staging_dirs(shared_repo)) == 1  # left for a user who may write


@pytest.mark.parametrize(
    "command",
    [["record", "--", "true"], ["tag", "finished", "a=b"], ["note", "finished", "hi"], ["gc"]],
)
def test_writes_to_a_read_only_repository_say_so(shared_repo: Path, command: list[str]) -> None:
    """Writes said "unexpected ... report it"."""
    result = as_reader(shared_repo, *command)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitruns: error: "), result.stderr
    assert "read-only" in lines[0] and "unexpected" not in lines[0]


def test_a_blobless_partial_clone_lists_shows_and_pulls(tmp_path: Path) -> None:
    """`git clone --filter=blob:none` crashed ls, pull and show."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    git(server, "config", "uploadpack.allowFilter", "true")
    git(server, "config", "uploadpack.allowAnySHA1InWant", "true")
    author = tmp_path / "author"
    git(tmp_path, "clone", "-q", str(server), str(author))
    git(author, "commit", "-q", "--allow-empty", "-m", "initial")
    git(author, "push", "-q", "origin", "HEAD:main")
    first = make_run(author, "first")
    assert gitruns_cli(author, "push").returncode == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", server.as_uri(), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")  # plain git
    listed = gitruns_cli(clone, "ls", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and listed.stderr == ""
    second = make_run(author, "second")
    assert gitruns_cli(author, "push").returncode == 0
    pulled = gitruns_cli(clone, "pull")
    assert pulled.returncode == 0, pulled.stderr
    shown = gitruns_cli(clone, "show", "first")
    assert shown.returncode == 0 and first in shown.stdout, shown.stderr
    metrics = gitruns_cli(clone, "metrics", "first", "loss")
    assert metrics.returncode == 0 and "0.25" in metrics.stdout, metrics.stderr
    listed = gitruns_cli(clone, "ls", "--format", "csv")
    assert first in listed.stdout and second in listed.stdout, listed.stderr
    assert gitruns.get_run("second", repo=clone).metric_history("loss")[-1].value == 0.25


def test_a_failing_reference_transaction_hook_fails_once_and_clearly(repo: Path) -> None:
    """Every annotation retried for seconds ("kept changing ... try again") after
    hundreds of hook runs."""
    make_run(repo, "hooked")
    hook = repo / ".git" / "hooks" / "reference-transaction"
    counter = repo / ".git" / "hook-runs"
    hook.write_text(f"#!/bin/sh\necho run >> '{counter}'\necho 'refs are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    started = time.monotonic()
    result = gitruns_cli(repo, "tag", "hooked", "a=b")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "reference-transaction" in lines[0], result.stderr
    assert "kept changing" not in lines[0]
    assert len(counter.read_text().splitlines()) <= 3, elapsed
    deleted = gitruns_cli(repo, "rm", "--yes", "hooked")
    assert deleted.returncode == 1 and "reference-transaction" in deleted.stderr
    hook.unlink()
    assert gitruns_cli(repo, "tag", "hooked", "a=b").returncode == 0
