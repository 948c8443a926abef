"""What a run's start needs from its repository, read with the git CLI, without libgit2.

``gitruns record`` starts its command before it loads pygit2 (about 60 ms of CPU): four
short git processes (``rev-parse``, ``config``, ``status``, ``ls-files``; a few ms
together) answer what ``storage.Store`` would (folders, identity, HEAD, branch, remote,
whether the tree is clean), and the run's staging folder is made from that. The probe
answers only the plain case and returns None for anything else, where the caller opens
the repository with libgit2 as before, so every other case keeps its exact behaviour:

- a worktree (not bare, not asked from inside the git folder), writable;
- no ``extensions.*`` in the config (sha256 and reftable repositories, which libgit2
  refuses with a clear message; partial clones and others are left to it too);
- no variable that changes which repository, index or objects git uses;
- a clean tree: no change to a tracked file (what ``Store.code_state`` snapshots) and no
  untracked entry-point script (which the snapshot would take in). A dirty tree needs
  its snapshot commit before the command starts, so that the command cannot change the
  code it is recorded with: that stays libgit2's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from gitruns.format.who import os_user_and_host, strip_credentials

# Variables with which git (not libgit2) would read another index, object folder or
# repository than the one Store opens: the probe then declines.
_REDIRECTING = (
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
)
_CONFIG_KEYS = (
    r"^(user\.(name|email)|branch\..*\.remote|remote\..*\.(url|promisor)|extensions\..*"
    r"|core\.(logallrefupdates|sharedrepository)|gitruns\..*)$"
)


# Plain classes, not dataclasses nor typing.NamedTuples: `record` makes these before its
# command starts; a dataclass costs 0.5-1 ms of CPU to define, and a NamedTuple compiles
# each field's (string) annotation, the first compile() of a process creating the 119
# classes of `ast` (about 1.5 ms) (docs/design.md, "Start-up of record, round six")
class ProbedRepo:
    """A clean worktree's repository as a run's start document needs it."""

    __slots__ = (
        "branch", "common_dir", "config", "git_dir", "head", "host", "os_user", "remote_url",
        "start", "user_email", "user_name", "workdir",
    )  # fmt: skip

    def __init__(
        self,
        *,
        start: str,
        git_dir: Path,
        common_dir: Path,
        workdir: Path,
        user_name: str,
        user_email: str,
        os_user: str,
        host: str,
        head: str | None,
        branch: str | None,
        remote_url: str | None,
        config: dict[str, str],
    ) -> None:
        self.start = start  # the folder it was found from (what Store() is given)
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.workdir = workdir
        self.user_name = user_name
        self.user_email = user_email
        self.os_user = os_user
        self.host = host
        self.head = head  # None: no commit yet (unborn HEAD)
        self.branch = branch  # None: detached HEAD
        self.remote_url = remote_url
        # what else was read of the config: how refs are written (core.*), partial clones
        # (remote.*.promisor) and gitruns' own settings, for finalising without pygit2
        self.config = config

    @property
    def gitruns_dir(self) -> Path:
        return self.common_dir / "gitruns"

    @property
    def author(self) -> str:
        return f"{self.user_name} <{self.user_email}>"


class StartedProbe:
    """The probe's three git processes, started (``start_probe``) and not yet read."""

    __slots__ = ("config", "found", "start", "status")

    def __init__(
        self,
        start: str,
        found: subprocess.Popen[bytes],
        config: subprocess.Popen[bytes],
        status: subprocess.Popen[bytes],
    ) -> None:
        self.start = start
        self.found = found
        self.config = config
        self.status = status

    def close(self) -> None:
        """Wait for the processes when their answers are not wanted (no zombies)."""
        for process in (self.found, self.config, self.status):
            with contextlib.suppress(OSError, ValueError):
                process.communicate()


def start_probe(start: str) -> StartedProbe | None:
    """Start the probe's git processes for the folder ``start`` (all three at once: each
    needs only the folder), so that they run while the caller does something else
    (``gitruns record`` loads its modules meanwhile); None when the probe would decline
    at once or git cannot run."""
    if any(os.environ.get(name) for name in _REDIRECTING):
        return None
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args in (
            ("rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-toplevel"),
            ("config", "-z", "--get-regexp", _CONFIG_KEYS),
            ("--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z", "-uno"),
        ):
            started.append(_start_git(start, *args))
    except OSError:
        for process in started:
            process.communicate()
        return None
    return StartedProbe(start, *started)


def probe_clean_worktree(
    start: str, scripts: Iterable[Path] = (), started: StartedProbe | None = None
) -> ProbedRepo | None:
    """The repository found from ``start`` when it is the plain case (module docstring),
    else None. ``scripts`` are the command's script files (``scripts_of_command``);
    ``started``, the processes ``start_probe(start)`` started earlier."""
    if started is None:
        started = start_probe(start)
    if started is None:
        return None
    found, config, status = started.found, started.config, started.status
    try:
        folders = _output(found)
        config_out, _ = config.communicate()
        status_out, _ = status.communicate()
        if folders is None or len(folders.splitlines()) != 3:
            return None
        git_dir, common, top = folders.splitlines()
        workdir = Path(top)
        common_dir = (Path(start) / common).resolve()
        if not os.access(common_dir, os.W_OK):
            return None  # read-only: Store says so plainly
        untracked = _untracked_scripts(workdir, scripts)
    except OSError:
        return None
    if untracked or status.returncode != 0 or config.returncode not in (0, 1):
        return None
    values = _config_values(config_out)
    if any(key.startswith("extensions.") for key in values):
        return None
    code = _code_state(status_out)
    if code is None:
        return None
    head, branch = code
    name = os.environ.get("GIT_AUTHOR_NAME") or values.get("user.name")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or values.get("user.email")
    os_user, host = os_user_and_host()
    return ProbedRepo(
        start=start,
        git_dir=Path(git_dir),
        common_dir=common_dir,
        workdir=workdir,
        user_name=name or os_user,
        user_email=email or f"{os_user}@{host}",
        os_user=os_user,
        host=host,
        head=head,
        branch=branch,
        remote_url=_remote_url(values, branch) if head is not None else None,
        config=values,
    )


def _code_state(status: bytes) -> tuple[str | None, str | None] | None:
    """(HEAD, branch) of a clean tree from ``git status --porcelain=v2 --branch -z``;
    None when a tracked file changed. An unborn HEAD counts as clean, as in Store."""
    head: str | None = None
    branch: str | None = None
    changed = False
    for record in status.decode("utf-8", "surrogateescape").split("\0"):
        if record.startswith("# branch.oid "):
            oid = record.removeprefix("# branch.oid ")
            head = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            name = record.removeprefix("# branch.head ")
            branch = None if name == "(detached)" else name
        elif record and not record.startswith("#"):
            changed = True
    if changed and head is not None:
        return None
    return head, branch


def _untracked_scripts(workdir: Path, scripts: Iterable[Path]) -> bool:
    """Is any of ``scripts`` inside the worktree and untracked (git's ignore rules)?"""
    inside = []
    for script in scripts:
        try:
            inside.append(script.resolve().relative_to(workdir.resolve()).as_posix())
        except (OSError, ValueError):
            continue  # outside the worktree: the snapshot leaves it out too
    if not inside:
        return False
    listed = _git(
        str(workdir),
        "--literal-pathspecs",
        "ls-files",
        "-z",
        "--others",
        "--exclude-standard",
        "--",
        *inside,
    )
    return listed is None or listed != ""


def _remote_url(values: dict[str, str], branch: str | None) -> str | None:
    """As ``Store._remote_url``: the branch's remote, else origin; credentials dropped."""
    remote = values.get(f"branch.{branch}.remote") if branch else None
    for name in (remote, "origin"):
        if name:
            url = values.get(f"remote.{name}.url")
            if url:
                return strip_credentials(url)
    return None


def _config_values(output: bytes) -> dict[str, str]:
    """``git config -z --get-regexp`` output as {key: last value}; empty values are left
    out, as ``Store`` reads them (an empty user.name means none)."""
    values: dict[str, str] = {}
    for entry in output.decode("utf-8", "surrogateescape").split("\0"):
        key, _, value = entry.partition("\n")
        if key and value:
            values[key] = value
        elif key:
            values.pop(key, None)
    return values


def _git(cwd: str, *args: str) -> str | None:
    return _output(_start_git(cwd, *args))


def _output(process: subprocess.Popen[bytes]) -> str | None:
    out, _ = process.communicate()
    if process.returncode != 0:
        return None
    return out.decode("utf-8", "surrogateescape").rstrip("\n")


def _start_git(cwd: str, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)  # Store finds the repository from the folder, as here
    env.pop("GIT_WORK_TREE", None)
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
