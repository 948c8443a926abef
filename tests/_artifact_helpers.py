"""Helpers for the artifact tests: real servers on 127.0.0.1 (giftless as a Git LFS server,
moto as an S3 server), started and stopped by the tests, and runs with artifacts."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _giftless_auth import PASSWORD, USER
from _sharing_helpers import free_port, wait_for_port
from conftest import git

import gitruns

TESTS = Path(__file__).resolve().parent


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_with_artifacts(repo: Path, name: str, files: dict[str, bytes], **kw: object) -> str:
    """A run (through the API) that logs ``files`` (path in the run -> bytes)."""
    scratch = repo.parent / f"scratch-{name}"
    with gitruns.start_run(name, repo=repo, **kw) as run:  # type: ignore[arg-type]
        for path, data in files.items():
            source = scratch / path
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(data)
            folder = str(Path(path).parent)
            run.log_artifact(source, None if folder == "." else folder)
    return run.id


def artifact_states(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The state (here, remote, missing) of each artifact in the output of
    ``gitruns artifacts ls RUN --format json``, in the order of the artifacts' paths."""
    import json

    assert result.returncode == 0, result.stderr
    rows = sorted(json.loads(result.stdout), key=lambda row: row["path"])
    return [row["state"] for row in rows]


def lfs_objects(git_dir: Path) -> dict[str, bytes]:
    """Every object of a Git LFS store (``<git dir>/lfs/objects``) by oid."""
    root = git_dir / "lfs" / "objects"
    if not root.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@dataclass
class LfsServer:
    url: str  # the LFS endpoint of one repository: <base>/team/models.git/info/lfs
    storage: Path
    log: Path

    def objects(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.storage.rglob("*") if p.is_file()}


@contextlib.contextmanager
def giftless_server(tmp_path: Path) -> Iterator[LfsServer]:
    """A real Git LFS server (giftless, Flask's server) on 127.0.0.1 with Basic auth."""
    port = free_port()
    storage = tmp_path / "giftless-storage"
    config = tmp_path / "giftless.yaml"
    config.write_text(
        "AUTH_PROVIDERS:\n  - _giftless_auth:basic\n"
        "PRE_AUTHORIZED_ACTION_PROVIDER: null\n"
        "LEGACY_ENDPOINTS: false\n"
        "TRANSFER_ADAPTERS:\n  basic:\n"
        "    factory: giftless.transfer.basic_streaming:factory\n"
        "    options:\n"
        "      storage_class: giftless.storage.local_storage:LocalStorage\n"
        f"      storage_options:\n        path: {storage}\n"
    )
    log = tmp_path / "giftless.log"
    env = {
        **os.environ,
        "GIFTLESS_CONFIG_FILE": str(config),
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "giftless.wsgi_entrypoint", "run",
             "--host", "127.0.0.1", "--port", str(port), "--without-threads"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        wait_for_port(port, process)
        yield LfsServer(f"http://127.0.0.1:{port}/team/models.git/info/lfs", storage, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def use_lfs_server(clone: Path, server: LfsServer, home: Path) -> None:
    """Point a clone's LFS endpoint at the server, with the credentials in a git credential
    store (the user's own credentials, as git-lfs looks them up)."""
    git(clone, "config", "lfs.url", server.url)
    git(clone, "config", "credential.helper", f"store --file={home / 'lfs-credentials'}")
    host = server.url.split("/")[2]
    (home / "lfs-credentials").write_text(f"http://{USER}:{PASSWORD}@{host}\n")


@dataclass
class S3Server:
    endpoint: str
    bucket: str

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def keys(self) -> dict[str, int]:
        listed = self.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"]: o["Size"] for o in listed}


@contextlib.contextmanager
def moto_s3(monkeypatch: object) -> Iterator[S3Server]:
    """moto in server mode on 127.0.0.1: a real S3 API over HTTP, and one bucket."""
    port = free_port()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)  # type: ignore[attr-defined]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        server = S3Server(f"http://127.0.0.1:{port}", "ml-artifacts")
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
