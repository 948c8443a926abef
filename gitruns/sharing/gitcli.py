"""The git CLI as the transport: the user's ssh config, agent, credential helpers and
proxies all apply. Errors are sorted into ones that say what to do."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitruns.runs.gitbatch import scratch_file
from gitruns.sharing.errors import AuthenticationError, RemoteError

if TYPE_CHECKING:
    from gitruns.storage import Store

# Where git's stderr goes while it runs (progress meters), besides being kept for errors.
Echo = Callable[[bytes], object]

_AUTH_MARKERS = (
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "access denied",
    "http 401",
    "http 403",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "invalid credentials",
)
_UNREACHABLE_MARKERS = (
    "does not appear to be a git repository",
    "could not resolve host",
    "connection refused",
    "connection timed out",
    "no route to host",
    "not found",
    "could not read from remote repository",
    "unable to access",
    "failed to connect",
    "no such file or directory",
)


class GitResult:
    """A git process's exit status and output. A plain class: a dataclass or NamedTuple
    costs a push or fetch a millisecond or more to import or build."""

    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def run_git(
    store: Store,
    args: Sequence[str],
    *,
    echo: Echo | None = None,
    stdin: bytes | None = None,
    env_extra: Mapping[str, str] | None = None,
) -> GitResult:
    """Run ``git <args>`` on the repository; stream stderr to ``echo`` as it comes.

    It runs from the top of the worktree (the git dir of a bare repository), as git itself
    would: relative remote URLs such as ``../shared.git`` resolve from there. ``env_extra``:
    variables for this git process (and its hooks), over the inherited ones.
    """
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env["LC_ALL"] = "C"  # git's messages are parsed: keep them in English
    env.update(env_extra or {})
    command = ["git", f"--git-dir={store.git_dir}", *args]
    if echo is None and stdin is None:
        return _run_quietly(command, store.workdir or store.git_dir, store.git_dir, env)
    process = subprocess.Popen(
        command,
        cwd=store.workdir or store.git_dir,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    errors: list[bytes] = []
    # stderr and stdin get threads of their own, so that no pipe can fill up and stall git.
    threads = [threading.Thread(target=_pump, args=(process, errors, echo), daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=_feed, args=(process, stdin), daemon=True))
    for thread in threads:
        thread.start()
    out = _read_all(process)
    for thread in threads:
        thread.join()
    process.wait()
    return GitResult(
        process.returncode,
        out.decode("utf-8", errors="replace"),
        b"".join(errors).decode("utf-8", errors="replace"),
    )


def _run_quietly(command: list[str], cwd: Path, git_dir: Path, env: dict[str, str]) -> GitResult:
    """``command`` with its stderr kept in a file (unnamed, in the git dir), not a pipe: a
    fetch of 10,000 runs writes a line a ref, and a thread woken for each line cost tens of
    milliseconds."""
    with scratch_file(git_dir) as errors:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            check=False,
        )
        errors.seek(0)
        text = errors.read()
    return GitResult(
        done.returncode,
        done.stdout.decode("utf-8", errors="replace"),
        text.decode("utf-8", errors="replace"),
    )


def _read_all(process: subprocess.Popen[bytes]) -> bytes:
    assert process.stdout is not None
    return process.stdout.read()


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except BrokenPipeError:
        pass  # git stopped reading (it failed): its exit status says why


def _pump(process: subprocess.Popen[bytes], errors: list[bytes], echo: Echo | None) -> None:
    assert process.stderr is not None
    while chunk := os.read(process.stderr.fileno(), 65536):
        errors.append(chunk)
        if echo is not None:
            echo(chunk)


def transport_error(remote: str, action: str, stderr: str) -> RemoteError:
    """Turn git's stderr after a failed push/fetch into an error that says what to do."""
    lowered = stderr.lower()
    detail = _last_error_line(stderr)
    if any(marker in lowered for marker in _AUTH_MARKERS):
        return AuthenticationError(
            f"remote '{remote}' refused the credentials ({detail})",
            f"check that 'git {action} {remote}' works: your ssh key, agent or credential "
            "helper, and that you have access to the repository",
        )
    if any(marker in lowered for marker in _UNREACHABLE_MARKERS):
        return RemoteError(
            f"cannot reach remote '{remote}' ({detail})",
            "check its URL with 'git remote -v' and your network",
        )
    return RemoteError(f"git {action} to/from '{remote}' failed ({detail})", "see git's message")


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.lower().startswith(("fatal:", "error:", "remote:")):
            return line
    return lines[-1] if lines else "no message"
