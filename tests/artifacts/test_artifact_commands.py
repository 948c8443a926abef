"""``gitruns artifacts`` ls/verify/gc and the API on one machine; runs of schema_version 1
(the old store and ``gitruns-store:`` URIs) still read; hostile artifact paths refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from _artifact_helpers import artifact_states, lfs_objects, record_with_artifacts, sha256
from _sharing_helpers import make_team
from conftest import fsck, git, gitruns_cli

import gitruns

MODEL = b"model bytes " * 100
HOUR_AGO = time.time() - 7200


def _object(repo: Path, data: bytes) -> Path:
    oid = sha256(data)
    return repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def _rewrite(repo: Path, run_id: str, files: dict[str, bytes], drop: list[str]) -> None:
    """Replace files of a run's commit (and drop folders) with git plumbing: a run as an
    older gitruns (or a hostile remote) would have written it."""
    ref = f"refs/runs/{run_id}"
    commit = git(repo, "rev-parse", ref).strip()
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "rewrite-index")}

    def plumb(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, input=data, capture_output=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    plumb("read-tree", commit)
    for folder in drop:
        plumb("rm", "--cached", "-r", "-q", folder)
    for path, data in files.items():
        blob = plumb("hash-object", "-w", "--stdin", data=data)
        plumb("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = plumb("write-tree")
    parents = plumb("rev-list", "--parents", "-n1", commit).split()[1:]
    parent_args = [arg for p in parents for arg in ("-p", p)]
    new = plumb("commit-tree", tree, *parent_args, "-m", "run (v1)")
    plumb("update-ref", ref, new, commit)
    (repo / ".git" / "rewrite-index").unlink()


def _make_v1(repo: Path, run_id: str) -> None:
    """Turn a run into schema_version 1: gitruns-store URIs, no pointer files, content in
    the old store."""
    commit = f"refs/runs/{run_id}"
    document = yaml.safe_load(git(repo, "show", f"{commit}:run.yaml"))
    document["schema_version"] = 1
    entries = yaml.safe_load(git(repo, "show", f"{commit}:artifacts.yaml"))
    for entry in entries:
        entry["uri"] = f"gitruns-store:sha256/{entry['sha256']}"
        old = repo / ".git" / "gitruns" / "artifacts" / "sha256" / entry["sha256"][:2]
        old.mkdir(parents=True, exist_ok=True)
        lfs = repo / ".git" / "lfs" / "objects" / entry["sha256"][:2] / entry["sha256"][2:4]
        shutil.move(str(lfs / entry["sha256"]), old / entry["sha256"][2:])
    files = {
        "run.yaml": yaml.safe_dump(document, sort_keys=True).encode(),
        "artifacts.yaml": yaml.safe_dump(entries, sort_keys=True).encode(),
    }
    _rewrite(repo, run_id, files, ["artifacts"])


def test_runs_of_schema_version_1_still_work(tmp_path: Path) -> None:
    team = make_team(tmp_path)
    run_id = record_with_artifacts(team.alice, "old-run", {"model.bin": MODEL})
    _make_v1(team.alice, run_id)
    assert not _object(team.alice, MODEL).exists()
    run = gitruns.get_run(run_id, repo=team.alice)
    assert run.to_dict()["schema_version"] == 1
    assert [f.here for f in run.artifact_files] == [True]
    listed = gitruns_cli(team.alice, "artifacts", "ls", run_id, "--format", "json")
    assert artifact_states(listed) == ["here"]
    got = gitruns_cli(team.alice, "artifacts", "get", run_id, "-o", "out")
    assert got.returncode == 0, got.stderr
    assert (team.alice / "out" / "model.bin").read_bytes() == MODEL
    # an old run's tree has no pointer file, so `git push` cannot upload its content:
    # `gitruns artifacts push` does, moving the object into the LFS store first
    pushed = gitruns_cli(team.alice, "artifacts", "push", run_id)
    assert pushed.returncode == 0, pushed.stderr
    assert _object(team.alice, MODEL).read_bytes() == MODEL
    assert lfs_objects(team.remote) == {sha256(MODEL): MODEL}
    dry = gitruns_cli(team.alice, "artifacts", "gc", "--dry-run")
    assert "would remove 0 unreferenced object(s)" in dry.stdout
    fsck(team.alice)


def test_verify_reports_damaged_objects(repo: Path) -> None:
    run_id = record_with_artifacts(repo, "checked", {"model.bin": MODEL, "b.txt": b"b\n"})
    ok = gitruns_cli(repo, "artifacts", "verify")
    assert ok.returncode == 0 and "checked 2 object(s)" in ok.stdout and "0 damaged" in ok.stdout
    damaged = _object(repo, MODEL)
    os.chmod(damaged, 0o644)
    damaged.write_bytes(b"X" + MODEL[1:])
    bad = gitruns_cli(repo, "artifacts", "verify", run_id)
    assert bad.returncode == 1
    assert f"damaged  model.bin  {damaged}" in bad.stdout
    assert bad.stderr.startswith("gitruns: error: 1 artifact(s) are damaged")
    # get notices too: the damaged copy is removed, never placed
    got = gitruns_cli(repo, "artifacts", "get", run_id, "model.bin", "-o", "out")
    assert got.returncode == 1 and "is damaged" in got.stderr
    assert not damaged.exists() and not (repo / "out" / "model.bin").exists()
    shown = gitruns_cli(repo, "show", run_id)
    assert "model.bin" in shown.stdout and "(not here)" in shown.stdout
    assert f"1 not here: gitruns artifacts get {run_id[-8:]}" in shown.stdout


def test_gc_keeps_what_any_run_references_and_the_users_own_lfs_objects(repo: Path) -> None:
    kept = record_with_artifacts(repo, "kept", {"kept.bin": b"kept"})
    fetched = record_with_artifacts(repo, "fetched", {"fetched.bin": b"fetched only"})
    gone = record_with_artifacts(repo, "gone", {"gone.bin": b"gone soon"})
    git(repo, "update-ref", f"refs/remote-runs/origin/{fetched}", f"refs/runs/{fetched}")
    git(repo, "update-ref", "-d", f"refs/runs/{fetched}")
    git(repo, "update-ref", "-d", f"refs/runs/{gone}")
    own = _object(repo, b"the user's own LFS file")  # not gitruns's: never touched
    own.parent.mkdir(parents=True)
    own.write_bytes(b"the user's own LFS file")
    for path in (repo / ".git" / "lfs" / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (HOUR_AGO, HOUR_AGO))
    dry = gitruns_cli(repo, "artifacts", "gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {sha256(b'gone soon')}" in dry.stdout
    assert "would remove 1 unreferenced object(s), 9 B" in dry.stdout
    assert _object(repo, b"gone soon").exists()
    done = gitruns_cli(repo, "artifacts", "gc")
    assert "removed 1 unreferenced object(s), 9 B" in done.stdout
    assert set(lfs_objects(repo / ".git").values()) == {
        b"kept",
        b"fetched only",
        b"the user's own LFS file",
    }
    assert gitruns.get_run(kept, repo=repo).artifact_files[0].here


def test_hostile_artifact_paths_are_never_written(repo: Path) -> None:
    run_id = record_with_artifacts(repo, "hostile", {"model.bin": MODEL})
    entries = yaml.safe_load(git(repo, "show", f"refs/runs/{run_id}:artifacts.yaml"))
    entries[0]["path"] = "../../escaped.bin"
    _rewrite(repo, run_id, {"artifacts.yaml": yaml.safe_dump(entries).encode()}, [])
    got = gitruns_cli(repo, "artifacts", "get", run_id, "-o", "out")
    assert got.returncode == 1
    assert "refusing to write artifact path '../../escaped.bin'" in got.stderr
    assert not (repo.parent / "escaped.bin").exists() and not (repo / "escaped.bin").exists()


def test_get_without_any_remote_says_what_to_do(repo: Path) -> None:
    run_id = record_with_artifacts(repo, "lonely", {"model.bin": MODEL})
    _object(repo, MODEL).unlink()
    listed = gitruns_cli(repo, "artifacts", "ls", run_id)
    row = listed.stdout.splitlines()[2].split()
    assert row[-3:] == ["missing", sha256(MODEL)[:12], "model.bin"], listed.stdout
    assert "not here: no remote; gitruns artifacts get" in listed.stdout
    with pytest.raises(gitruns.ArtifactError, match="no git remote and no artifacts remote"):
        gitruns.get_artifact(run_id, "model.bin", repo=repo)
    got = gitruns_cli(repo, "artifacts", "get", run_id)
    assert got.returncode == 1 and "Traceback" not in got.stderr
    assert got.stderr.startswith("gitruns: error: this repository has no git remote")
