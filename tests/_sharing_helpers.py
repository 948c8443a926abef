"""Helpers for the sharing tests: clones of a bare remote, runs made through the real API,
a real `git daemon`, and smart HTTP through `git http-backend`, all on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conftest import git, gitruns_cli

import gitruns
from gitruns.recording.repository import open_store
from gitruns.runs.untrusted import Limits
from gitruns.storage import Store


@dataclass
class Team:
    remote: Path
    alice: Path
    bob: Path


def make_team(tmp_path: Path, url: str | None = None) -> Team:
    """A bare remote with one commit on main, and two clones of it (alice, bob)."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", str(seed))
    (seed / "train.py").write_text("print('training')\n")
    git(seed, "add", "train.py")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", str(remote), "main")
    alice = tmp_path / "alice"
    bob = tmp_path / "bob"
    for clone in (alice, bob):
        git(tmp_path, "clone", "-q", url or str(remote), str(clone))
    return Team(remote, alice, bob)


def make_run(repo: Path, name: str = "run", **tags: str) -> str:
    """Record a small run in ``repo`` through the public API; return its id."""
    with gitruns.start_run(name, repo=repo, params={"lr": 0.01}, tags=tags or None) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
    return run.id


def store(repo: Path) -> Store:
    return open_store(repo)


def runs_of(repo: Path, prefix: str = "refs/runs/") -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return {line.split()[0][len(prefix) :]: line.split()[1] for line in out.splitlines()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("server exited before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """A real ``git daemon`` serving every repository under ``base``, push enabled."""
    port = free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"git://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class _BackendHandler(BaseHTTPRequestHandler):
    """Runs ``git http-backend`` as a CGI for each request (smart HTTP, push allowed)."""

    root: Path
    credentials: str | None = None

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        if self.credentials and self.headers.get("Authorization") != "Basic " + self.credentials:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="runs"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "tester",  # lets http-backend accept pushes
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        body = self._body()
        result = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))


@contextlib.contextmanager
def http_backend(root: Path, user: str | None = None, password: str = "") -> Iterator[str]:
    """Smart HTTP for every repository under ``root``; Basic auth when ``user`` is given."""
    handler = type("Handler", (_BackendHandler,), {"root": root})
    if user is not None:
        handler.credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def have_http_backend() -> bool:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout
    return (Path(exec_path.strip()) / "git-http-backend").exists() or bool(
        shutil.which("git-http-backend")
    )


CLICK_ONLY = "import sys; from gitruns.cli.main import main; main()"


def fast_and_click(repo: Path, copy: Path, *argv: str) -> tuple[list[object], list[object]]:
    """``argv`` through the `gitruns` entry (fast path first) in ``repo`` and through click
    alone in ``copy`` (an identical clone): (code, stdout, stderr) of each, ``copy``'s path
    in its messages read as ``repo``'s."""
    fast = gitruns_cli(repo, *argv)
    slow = subprocess.run(
        [sys.executable, "-c", CLICK_ONLY, *argv], cwd=copy, capture_output=True, text=True
    )
    return [fast.returncode, fast.stdout, fast.stderr], [
        slow.returncode,
        slow.stdout,
        slow.stderr.replace(str(copy), str(repo)),
    ]


def logging_git(folder: Path) -> tuple[str, Path]:
    """A PATH on which `git` logs its arguments (one line a call), then runs the real git;
    and the log."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True)
    folder.mkdir()
    log = folder / "calls.log"
    shim = folder / "git"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real.stdout.strip()} "$@"\n')
    shim.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}", log


def refs_by_git(repo: Path, prefix: str) -> dict[str, str]:
    """``{ref name: object id}`` of the refs under ``prefix``, as ``git for-each-ref`` lists
    them (the reference that gitruns' own ref readers are compared with)."""
    listed = git(repo, "for-each-ref", "--format=%(objectname) %(refname)", prefix)
    return {name: oid for oid, name in (line.split(" ", 1) for line in listed.splitlines())}


def create_refs(repo: Path, names: list[str], commit: str) -> None:
    """Loose refs ``names``, all at ``commit``, in one ``git update-ref --stdin``."""
    lines = "".join(f"create {name} {commit}\n" for name in names)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=repo, input=lines, text=True, check=True)


def per_object_failures(
    repo: Path, runs: list[tuple[str, str, str]], limits: Limits
) -> dict[str, str]:
    """``{ref: message}`` of the ``(ref, run id, commit)`` runs that the per-object tree check
    (``check_tree``, one run at a time) refuses: what the bulk check is compared with."""
    from gitruns.errors import InvalidRunError
    from gitruns.runs.untrusted import check_tree

    failed = {}
    for ref, _, commit in runs:
        try:
            check_tree(store(repo), commit, ref, limits)
        except InvalidRunError as exc:
            failed[ref] = exc.message
    return failed
