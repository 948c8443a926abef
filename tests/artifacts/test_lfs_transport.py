"""Artifacts travel by Git LFS: the real git-lfs, against a bare repository on disk (its
standalone file transfer) and a real LFS server (giftless) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _artifact_helpers import (
    artifact_states,
    giftless_server,
    lfs_objects,
    record_with_artifacts,
    sha256,
    use_lfs_server,
)
from _sharing_helpers import make_team
from conftest import fsck, git, gitruns_cli

pytestmark = pytest.mark.skipif(
    shutil.which("git-lfs") is None and not os.environ.get("CI"),
    reason="git-lfs is not installed (.ci/run installs it)",
)

MODEL = b"weights " * 50_000  # 400 kB
VOCAB = b"a\nb\nc\n"


def _push_run(clone: Path) -> str:
    assert gitruns_cli(clone, "remote", "setup").returncode == 0
    run_id = record_with_artifacts(clone, "best-lr", {"model.npz": MODEL, "data/vocab.txt": VOCAB})
    pushed = git(clone, "push")  # plain git push: the pre-push hook uploads
    assert "error" not in pushed.lower()
    return run_id


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_plain_push_uploads_and_a_clone_gets_them(
    tmp_path: Path, isolated_environment: Path
) -> None:
    git(tmp_path, "lfs", "install")  # filters in the user's global config, as most users have
    team = make_team(tmp_path)
    run_id = _push_run(team.alice)
    # the bare remote's LFS store (git-lfs's standalone file transfer) got both objects
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL, sha256(VOCAB): VOCAB}

    fresh = tmp_path / "fresh-clone"
    git(tmp_path, "clone", "-q", str(team.remote), str(fresh))
    git(fresh, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    git(fresh, "checkout", "-q", "-b", "other")
    assert lfs_objects(fresh / ".git") == {}  # the code checkout downloaded nothing

    bob = team.bob
    assert gitruns_cli(bob, "remote", "setup").returncode == 0
    git(bob, "fetch", "-q")
    listed = gitruns_cli(bob, "artifacts", "ls", "best-lr", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert artifact_states(listed) == ["remote", "remote"]
    got = gitruns_cli(bob, "artifacts", "get", run_id[-8:], "-o", "out")
    assert got.returncode == 0, got.stderr
    assert "downloaded 2 object(s)" in got.stdout
    assert _files(bob / "out") == {"model.npz": MODEL, "data/vocab.txt": VOCAB}
    assert lfs_objects(bob / ".git") == {sha256(MODEL): MODEL, sha256(VOCAB): VOCAB}
    again = gitruns_cli(bob, "artifacts", "ls", "best-lr", "--format", "json")
    assert artifact_states(again) == ["here", "here"]
    second = gitruns_cli(bob, "artifacts", "get", "best-lr", "model.npz", "-o", "out2")
    assert "downloaded 0 object(s)" in second.stdout and "2 already here" not in second.stdout
    assert _files(bob / "out2") == {"model.npz": MODEL}
    fsck(bob)
    fsck(team.remote)


@pytest.mark.slow
def test_against_a_real_lfs_server_with_git_credentials(
    tmp_path: Path, isolated_environment: Path
) -> None:
    team = make_team(tmp_path)
    with giftless_server(tmp_path) as server:
        use_lfs_server(team.alice, server, isolated_environment)
        run_id = _push_run(team.alice)
        assert server.objects() == {sha256(MODEL): MODEL, sha256(VOCAB): VOCAB}
        # bob has the endpoint but not yet the credentials: a clear error, nothing placed
        git(team.bob, "config", "lfs.url", server.url)
        git(team.bob, "config", "credential.helper", "")
        assert gitruns_cli(team.bob, "remote", "setup").returncode == 0
        git(team.bob, "fetch", "-q")
        refused = gitruns_cli(
            team.bob, "artifacts", "get", run_id, "-o", "out", env={"GIT_TERMINAL_PROMPT": "0"}
        )
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            "gitruns: error: git-lfs on 'origin' refused the credentials"
        ), refused.stderr
        assert "credential helper" in refused.stderr
        assert "Traceback" not in refused.stderr and not (team.bob / "out").exists()
        use_lfs_server(team.bob, server, isolated_environment)
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "out")
        assert got.returncode == 0, got.stderr
        assert _files(team.bob / "out") == {"model.npz": MODEL, "data/vocab.txt": VOCAB}
        assert "GET /team/models.git/info/lfs/objects/storage/" in server.log.read_text()


def test_missing_object_is_a_clear_error_until_pushed(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    run_id = record_with_artifacts(team.alice, "unsent", {"model.npz": MODEL})
    git(team.alice, "push", "--no-verify")  # the hook did not run: pointers only
    assert lfs_objects(team.remote) == {}
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    missing = gitruns_cli(team.bob, "artifacts", "get", "unsent")
    assert missing.returncode == 1
    assert "1 artifact(s) of run unsent" in missing.stderr
    assert "neither here nor on git-lfs on 'origin': model.npz" in missing.stderr
    assert f"gitruns artifacts push {run_id[-8:]}" in missing.stderr
    pushed = gitruns_cli(team.alice, "artifacts", "push", run_id)
    assert pushed.returncode == 0, pushed.stderr
    assert "uploaded 1 object(s)" in pushed.stdout
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    got = gitruns_cli(team.bob, "artifacts", "get", "unsent", "-o", "out")
    assert got.returncode == 0, got.stderr
    assert (team.bob / "out" / "model.npz").read_bytes() == MODEL


def test_corrupt_remote_object_is_detected(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = _push_run(team.alice)
    stored = team.remote / "lfs" / "objects" / sha256(VOCAB)[:2] / sha256(VOCAB)[2:4]
    target = stored / sha256(VOCAB)
    os.chmod(target, 0o644)
    target.write_bytes(b"x\ny\nz\n")  # same size, other bytes
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "out")
    assert got.returncode == 1
    assert "git-lfs on 'origin' of 1 artifact(s) of run best-lr is damaged" in got.stderr
    assert "data/vocab.txt" in got.stderr and "Traceback" not in got.stderr
    assert sha256(VOCAB) not in lfs_objects(team.bob / ".git")  # nothing damaged kept
    assert not (team.bob / "out" / "data" / "vocab.txt").exists()


def test_without_git_lfs_runs_travel_as_pointers(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    bare_path = tmp_path / "bin-without-lfs"
    bare_path.mkdir()
    for tool in ("git", "sh", "cat", "mktemp", "rm", "dirname", "grep", "cp"):
        found = shutil.which(tool)
        assert found is not None
        (bare_path / tool).symlink_to(found)
    env = {"PATH": str(bare_path)}
    setup = gitruns_cli(team.alice, "remote", "setup", env=env)
    assert "note: git-lfs is not installed" in setup.stdout
    run_id = record_with_artifacts(team.alice, "no-lfs", {"model.npz": MODEL})
    pushed = gitruns_cli(team.alice, "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert git(team.remote, "rev-parse", f"refs/runs/{run_id}").strip()
    assert "git-lfs is not installed" in pushed.stderr + pushed.stdout
    assert lfs_objects(team.remote) == {}
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    refused = gitruns_cli(team.bob, "artifacts", "get", run_id, env=env)
    assert refused.returncode == 1
    assert "git-lfs is not installed" in refused.stderr and "apt install git-lfs" in refused.stderr


def test_hook_chains_the_users_own_and_undo_restores_it(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    hooks = team.alice / ".git" / "hooks"
    seen = tmp_path / "seen.txt"
    own = f'#!/bin/sh\necho "$1" >> {seen}\ncat >> {seen}\n'
    (hooks / "pre-push").write_text(own)
    os.chmod(hooks / "pre-push", 0o755)
    setup = gitruns_cli(team.alice, "remote", "setup")
    assert "kept your pre-push hook as pre-push.before-gitruns" in setup.stdout
    run_id = record_with_artifacts(team.alice, "chained", {"model.npz": MODEL})
    (team.alice / "more.py").write_text("print(2)\n")
    git(team.alice, "add", "more.py")
    git(team.alice, "commit", "-q", "-m", "more code")
    git(team.alice, "push")  # code and run in one push: git lfs pre-push gets the code line
    lines = seen.read_text()
    assert f"refs/runs/{run_id}" in lines and "refs/heads/main" in lines  # the user's hook ran
    assert (
        git(team.remote, "rev-parse", "main").strip()
        == git(team.alice, "rev-parse", "HEAD").strip()
    )
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}  # and git-lfs uploaded
    undo = gitruns_cli(team.alice, "remote", "setup", "--undo")
    assert "restored your pre-push hook" in undo.stdout
    assert (hooks / "pre-push").read_text() == own
    assert not (hooks / "pre-push.before-gitruns").exists()


def test_git_lfs_stock_hook_is_replaced_not_run_twice(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    git(team.alice, "lfs", "install", "--local")
    stock = (team.alice / ".git" / "hooks" / "pre-push").read_text()
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    record_with_artifacts(team.alice, "stock", {"model.npz": MODEL})
    counting = tmp_path / "counting-bin"
    counting.mkdir()
    calls = tmp_path / "calls.txt"
    real = shutil.which("git-lfs")
    (counting / "git-lfs").write_text(f'#!/bin/sh\necho "$1" >> {calls}\nexec {real} "$@"\n')
    os.chmod(counting / "git-lfs", 0o755)
    env = {**os.environ, "PATH": f"{counting}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "push"], cwd=team.alice, env=env, check=True, capture_output=True)
    called = calls.read_text().split()
    # one upload (gitruns's `git lfs push --object-id`); the stock hook, which would have
    # run `git lfs pre-push` over the same run, did not run
    assert (called.count("push"), called.count("pre-push")) == (1, 0)
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    assert gitruns_cli(team.alice, "remote", "setup", "--undo").returncode == 0
    assert (team.alice / ".git" / "hooks" / "pre-push").read_text() == stock


def test_api_get_artifact_downloads_on_demand(tmp_path: Path) -> None:
    import gitruns

    team = make_team(tmp_path)
    run_id = _push_run(team.alice)
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    fetched = gitruns.search_runs(repo=team.bob)[0]
    assert [(f.path, f.here) for f in fetched.artifact_files] == [
        ("data/vocab.txt", False),
        ("model.npz", False),
    ]
    path = gitruns.get_artifact(run_id, "model.npz", repo=team.bob)
    assert path.read_bytes() == MODEL
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    with pytest.raises(gitruns.ArtifactError, match=r"has no artifact 'nope\.bin'"):
        gitruns.get_artifact(run_id, "nope.bin", repo=team.bob)


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    import pty

    team = make_team(tmp_path)
    run_id = _push_run(team.alice)
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    controller, terminal = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "gitruns", "artifacts", "get", run_id, "--no-place"],
        cwd=team.bob,
        stdout=subprocess.PIPE,
        stderr=terminal,
        check=False,
    )
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(controller, 65536):
            shown += chunk
    os.close(controller)
    assert done.returncode == 0
    assert b"downloading [" in shown and b"100%" in shown and b"2 object(s)" in shown
    piped = gitruns_cli(team.bob, "artifacts", "get", run_id, "--no-place")
    assert "downloading [" not in piped.stderr  # logs and pipes stay clean


def test_hook_falls_back_to_git_lfs_when_its_python_is_gone(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    assert gitruns_cli(team.alice, "remote", "setup").returncode == 0
    hook = team.alice / ".git" / "hooks" / "pre-push"
    script = hook.read_text().replace(sys.executable, "/nonexistent/python")
    hook.write_text(script)
    record_with_artifacts(team.alice, "fallback", {"model.npz": MODEL})
    git(team.alice, "push")
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}  # git lfs pre-push sent it
