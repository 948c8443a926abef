"""Object stores by URL through fsspec: a real S3 API (moto's server) on 127.0.0.1 through
s3fs, and a file:// store; resumed, verified and retried downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from _artifact_helpers import artifact_states, lfs_objects, moto_s3, record_with_artifacts, sha256
from _sharing_helpers import make_team
from conftest import fsck, git, gitruns_cli

pytest.importorskip("s3fs")

BIG = bytes(range(256)) * 8192  # 2 MiB: several read chunks
SMALL = b"tokenizer\n"


def _add_team_store(clone: Path, endpoint: str) -> None:
    added = gitruns_cli(
        clone, "artifacts", "remote", "add", "team", "s3://ml-artifacts/proj",
        "-o", f"endpoint_url={endpoint}", "--for", "origin",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert gitruns_cli(clone, "remote", "setup").returncode == 0


@pytest.mark.slow
def test_s3_plain_push_and_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team = make_team(tmp_path)
    with moto_s3(monkeypatch) as s3:
        _add_team_store(team.alice, s3.endpoint)
        listed = gitruns_cli(team.alice, "artifacts", "remote", "list")
        assert "team\ts3://ml-artifacts/proj" in listed.stdout and "(for origin)" in listed.stdout
        run_id = record_with_artifacts(team.alice, "s3-run", {"model.bin": BIG, "tok.txt": SMALL})
        git(team.alice, "push")  # the hook sends the run's artifacts to S3, not to LFS
        keys = s3.keys()
        for data in (BIG, SMALL):
            oid = sha256(data)
            assert keys[f"proj/objects/{oid[:2]}/{oid[2:4]}/{oid}"] == len(data)
        assert lfs_objects(team.remote) == {}

        _add_team_store(team.bob, s3.endpoint)
        git(team.bob, "fetch", "-q")
        states = gitruns_cli(team.bob, "artifacts", "ls", run_id, "--format", "json")
        assert artifact_states(states) == ["remote", "remote"]
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "out")
        assert got.returncode == 0, got.stderr
        assert (team.bob / "out" / "model.bin").read_bytes() == BIG
        assert (team.bob / "out" / "tok.txt").read_bytes() == SMALL
        assert "'team' (s3://ml-artifacts/proj)" in got.stdout
        # pushing again sends nothing: the store has both objects
        again = gitruns_cli(team.alice, "artifacts", "push", run_id)
        assert "uploaded 0 object(s)" in again.stdout and "2 already there" in again.stdout
    fsck(team.bob)


@pytest.mark.slow
def test_downloads_resume_and_retry_a_damaged_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team(tmp_path)
    with moto_s3(monkeypatch) as s3:
        _add_team_store(team.alice, s3.endpoint)
        run_id = record_with_artifacts(team.alice, "resume", {"model.bin": BIG})
        git(team.alice, "push")
        _add_team_store(team.bob, s3.endpoint)
        git(team.bob, "fetch", "-q")
        partial = team.bob / ".git" / "lfs" / "tmp" / f"gitruns-partial-{sha256(BIG)}"
        partial.parent.mkdir(parents=True)
        partial.write_bytes(BIG[: len(BIG) // 3])  # an interrupted download: resumed
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "a")
        assert got.returncode == 0, got.stderr
        assert (team.bob / "a" / "model.bin").read_bytes() == BIG
        assert not partial.exists()

        local = team.bob / ".git" / "lfs" / "objects" / sha256(BIG)[:2] / sha256(BIG)[2:4]
        (local / sha256(BIG)).unlink()
        partial.write_bytes(b"garbage" * 1000)  # a damaged partial: detected, started over
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "b")
        assert got.returncode == 0, got.stderr
        assert (team.bob / "b" / "model.bin").read_bytes() == BIG


@pytest.mark.slow
def test_damaged_remote_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team = make_team(tmp_path)
    with moto_s3(monkeypatch) as s3:
        _add_team_store(team.alice, s3.endpoint)
        run_id = record_with_artifacts(team.alice, "damaged", {"model.bin": BIG})
        git(team.alice, "push")
        oid = sha256(BIG)
        key = f"proj/objects/{oid[:2]}/{oid[2:4]}/{oid}"
        s3.client().put_object(Bucket=s3.bucket, Key=key, Body=BIG[:-1] + b"\x00")
        _add_team_store(team.bob, s3.endpoint)
        git(team.bob, "fetch", "-q")
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "out")
        assert got.returncode == 1
        assert "did not match its sha256 after 3 tries" in got.stderr
        assert "Traceback" not in got.stderr
        assert not (team.bob / "out").exists()
        assert lfs_objects(team.bob / ".git") == {}
        # a truncated copy is refused the same way
        s3.client().put_object(Bucket=s3.bucket, Key=key, Body=BIG[:1000])
        assert gitruns_cli(team.bob, "artifacts", "get", run_id).returncode == 1
        # a good copy pushed again is then fetched
        s3.client().delete_object(Bucket=s3.bucket, Key=key)
        assert gitruns_cli(team.alice, "artifacts", "push", run_id).returncode == 0
        got = gitruns_cli(team.bob, "artifacts", "get", run_id, "-o", "out")
        assert got.returncode == 0, got.stderr


def test_file_store_and_missing_objects(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    shared = tmp_path / "shared-disk"
    for clone in (team.alice, team.bob):
        added = gitruns_cli(clone, "artifacts", "remote", "add", "disk", shared.as_uri())
        assert added.returncode == 0, added.stderr
    run_id = record_with_artifacts(team.alice, "on-disk", {"a.bin": SMALL, "b.bin": BIG})
    assert gitruns_cli(team.alice, "push").returncode == 0  # the run itself (no LFS needed)
    pushed = gitruns_cli(team.alice, "artifacts", "push", run_id, "--remote", "disk")
    assert pushed.returncode == 0, pushed.stderr
    oid = sha256(SMALL)
    (shared / "objects" / oid[:2] / oid[2:4] / oid).unlink()
    git(team.bob, "fetch", "-q", "origin", "refs/runs/*:refs/remote-runs/origin/*")
    states = gitruns_cli(
        team.bob, "artifacts", "ls", run_id, "--remote", "disk", "--format", "json"
    )
    assert artifact_states(states) == ["missing", "remote"]
    got = gitruns_cli(team.bob, "artifacts", "get", run_id, "b.bin", "--remote", "disk")
    assert got.returncode == 0, got.stderr
    assert (team.bob / "b.bin").read_bytes() == BIG
    missing = gitruns_cli(team.bob, "artifacts", "get", run_id, "a.bin", "--remote", "disk")
    assert missing.returncode == 1
    assert "neither here nor on 'disk'" in missing.stderr and "a.bin" in missing.stderr


def test_remote_add_refuses_bad_input(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "../nowhere.git")
    taken = gitruns_cli(repo, "artifacts", "remote", "add", "origin", "s3://b")
    assert taken.returncode == 1 and "already a git remote" in taken.stderr
    scheme = gitruns_cli(repo, "artifacts", "remote", "add", "x", "ftp://host/path")
    assert scheme.returncode == 1 and "not an object store URL" in scheme.stderr
    option = gitruns_cli(repo, "artifacts", "remote", "add", "x", "s3://b", "-o", "novalue")
    assert option.returncode == 1 and "is not KEY=VALUE" in option.stderr
    gone = gitruns_cli(repo, "artifacts", "remote", "remove", "nope")
    assert gone.returncode == 1 and "no artifacts remote 'nope'" in gone.stderr
