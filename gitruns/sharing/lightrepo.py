"""Opening the repository for ``gitruns push`` / ``fetch`` without loading libgit2.

A transfer of runs is git processes (``for-each-ref``, ``cat-file``, ``push``, ``fetch``)
driven from Python; importing pygit2 and ``gitruns.storage`` (about 0.1 s) is most of what
gitruns adds to a small push. ``open_for_transfer`` finds the repository (in Python where
it is plainly a normal one, ``sharing.discovery``, else with one ``git rev-parse``) and
answers what a transfer asks (its folders, remote names, config values, whether it is a
partial clone, reachability) with the git CLI; anything else (recovering
crashed runs, resolving a run name, uploading artifacts) opens the real ``Store`` on
first use, so every operation behaves exactly as with ``open_store``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from gitruns.errors import GitrunsError, ReadOnlyRepositoryError
from gitruns.recording.repository import ENV_REPO, open_store
from gitruns.recording.staging_files import STAGING_DIR
from gitruns.sharing.discovery import plain_worktree

if TYPE_CHECKING:
    from gitruns.storage import Store


def open_for_transfer(repo: str | os.PathLike[str] | None = None) -> Store:
    """``open_store(repo)``, with libgit2 loaded only if a transfer needs more than git.

    Falls back to ``open_store`` itself whenever the repository is not a plain worktree
    (bare, or asked from inside its git dir), git cannot open it, or runs are staged (they
    are recovered first, which needs the full store)."""
    start = os.fspath(repo) if repo is not None else os.environ.get(ENV_REPO) or os.getcwd()
    light = _discover(start)
    if light is None or light.anything_staged():
        return open_store(repo)
    return cast("Store", light)


class LightRepo:
    """The part of ``gitruns.storage.Store`` a transfer uses, through the git CLI; any other
    attribute is the real Store's (opened once, on first use)."""

    def __init__(self, start: str, git_dir: Path, workdir: Path) -> None:
        self._start = start
        self._store: Store | None = None
        self._remote_config: list[tuple[str, str]] | None = None
        self._promisor: str | None = None
        self.git_dir = git_dir
        self.workdir: Path | None = workdir
        commondir_file = git_dir / "commondir"  # as Store: linked worktrees share it
        self.common_dir = (
            (git_dir / commondir_file.read_text().strip()).resolve()
            if commondir_file.exists()
            else git_dir
        )
        self.gitruns_dir = self.common_dir / "gitruns"
        self.objects_dir = self.common_dir / "objects"

    def anything_staged(self) -> bool:
        try:
            with os.scandir(self.gitruns_dir / STAGING_DIR) as entries:
                return next(entries, None) is not None
        except (FileNotFoundError, NotADirectoryError):
            return False

    def require_writable(self) -> None:
        if not os.access(self.common_dir, os.W_OK):
            raise ReadOnlyRepositoryError(
                f"the repository at {self.common_dir} is read-only for you",
                "reading runs works here; to record or change runs, use a clone you can write",
            )

    def remote_names(self) -> list[str]:
        """As ``git remote``: every name with a ``remote.<name>.<key>`` in the config."""
        names = {key[len("remote.") : key.rindex(".")] for key, _ in self._remote_keys()}
        return sorted(names)

    def _remote_keys(self) -> list[tuple[str, str]]:
        """``(key, value)`` of every ``remote.<name>.<key>`` and ``extensions.partialclone``
        setting: the remote names and the partial-clone question of a transfer in one
        ``git config`` (each git process costs a millisecond or two of CPU)."""
        if self._remote_config is None:
            listed = self._git(
                "config", "-z", "--get-regexp", r"^remote\..*\.|^extensions\.partialclone$"
            )
            entries = []
            for entry in listed.split("\0"):
                key, _, value = entry.partition("\n")  # a key set without a value has none
                if key == "extensions.partialclone" or key.count(".") >= 2:
                    entries.append((key, value))
            self._remote_config = entries
        return self._remote_config

    def config_value(self, key: str) -> str | None:
        """As ``Store.config_value``: a git config value (every level), None when unset or
        empty."""
        return self._git("config", "--get", key).rstrip("\n") or None

    def promisor_remote(self) -> str | None:
        """As ``Store.promisor_remote``: the remote a partial clone fetches from, or None."""
        if self._promisor is None:
            found = ""
            for key, value in self._remote_keys():
                if key == "extensions.partialclone" and value:
                    found = value
                    break
                if key.endswith(".promisor") and value.lower() == "true" and not found:
                    found = key[len("remote.") : -len(".promisor")]
            self._promisor = found
        return self._promisor or None

    def unreachable(self, commits: set[str], tips: set[str]) -> set[str]:
        """As ``Store.unreachable``: those of ``commits`` no commit of ``tips`` reaches."""
        if not commits:
            return set()
        lines = [*sorted(commits), *(f"^{tip}" for tip in sorted(tips))]
        listed = self._git("rev-list", "--stdin", stdin="\n".join(lines) + "\n", check=True)
        return commits & set(listed.split())

    def compact_in_background(self) -> None:
        """As ``Store.compact_in_background``, from file counts and the git CLI: a fetch
        ends without loading libgit2 (about 60 ms of CPU)."""
        from gitruns.compaction import compact_if_due  # (a push never needs it: 10 ms)

        compact_if_due(self, check_refs=True)

    def full_store(self) -> Store:
        if self._store is None:
            from gitruns.storage import Store

            self._store = Store(self._start)
        return self._store

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.full_store(), name)

    def _git(self, *args: str, stdin: str | None = None, check: bool = False) -> str:
        done = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            cwd=self.git_dir,
            input=stdin,
            capture_output=True,
            text=True,
            errors="surrogateescape",  # as sys.argv: a name read here matches one typed
            env=_git_env(),
            check=False,
        )
        if check and done.returncode != 0:
            raise GitrunsError(f"git {args[0]} failed: {done.stderr.strip()}", "check the repo")
        return done.stdout


def _discover(start: str) -> LightRepo | None:
    plain = plain_worktree(start)  # (a git process less, where the answer is plain)
    if plain is not None:
        return LightRepo(start, Path(plain[0]), Path(plain[1]))
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--absolute-git-dir", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            env=_git_env(),
            check=False,
        )
    except OSError:
        return None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) != 2 or not all(lines):
        return None
    return LightRepo(start, Path(lines[0]), Path(lines[1]))


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env
