"""Remote names, and ``gitruns remote setup``: the refspecs that let plain ``git push`` and
``git fetch`` carry runs.

Measured with git 2.39 (tests/test_sharing_setup.py keeps checking it):

- ``remote.<r>.push = refs/runs/*:refs/runs/*`` alone stops plain ``git push`` from pushing
  the current branch (push.default no longer applies once a push refspec exists). Adding
  ``HEAD`` next to it pushes the current branch to the same name, as ``push.default =
  current`` would. Setup adds ``HEAD`` only when the remote had no push refspec of its own.
- Fetched runs go to ``refs/remote-runs/<r>/*`` with a non-forced refspec: a run rewritten
  on the remote is refused, never overwrites, and ``git fetch --prune`` can only prune that
  namespace, never a local ``refs/runs/`` run.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.format.runrefs import is_label
from gitruns.sharing.errors import RemoteError
from gitruns.sharing.gitcli import run_git

if TYPE_CHECKING:
    from gitruns.storage import Store

PUSH_RUNS = f"{RUNS_PREFIX}*:{RUNS_PREFIX}*"
ADDED_HEAD_KEY = "gitruns.{remote}.addedHead"


def fetch_refspec(remote: str) -> str:
    return f"{RUNS_PREFIX}*:{REMOTE_RUNS_PREFIX}{remote}/*"


def require_fetchable(store: Store, remote: str) -> None:
    """``require_remote``, and a name that can label fetched runs (one ref component:
    refs/remote-runs/a/b/<id> would be ambiguous; see gitruns.format.runrefs)."""
    require_remote(store, remote)
    if not is_label(remote):
        raise RemoteError(
            f"remote name '{remote}' cannot hold fetched runs: runs are fetched to "
            f"refs/remote-runs/<remote>/<id>, and a name with '/' (or 'local') is ambiguous",
            f"rename it with 'git remote rename {remote} NEW-NAME'",
        )


def require_remote(store: Store, remote: str) -> None:
    """Raise RemoteError naming the known remotes when ``remote`` is not configured."""
    names = store.remote_names()
    if remote in names:
        return
    known = ", ".join(sorted(names)) if names else "none"
    raise RemoteError(
        f"no such remote '{remote}' (known remotes: {known})",
        f"add it with 'git remote add {remote} URL', or name one of the known remotes",
    )


class SetupChange:
    """What setup (or undo) changed, for the CLI to show. A plain class, not a dataclass:
    this module is on the path of every push and fetch (see ``sharing.fetch.FetchReport``)."""

    def __init__(self, added: list[str], removed: list[str]) -> None:
        self.added = added
        self.removed = removed

    def __repr__(self) -> str:
        return f"SetupChange(added={self.added!r}, removed={self.removed!r})"


def setup_remote(store: Store, remote: str) -> SetupChange:
    """Add the push and fetch refspecs for runs to ``remote``; idempotent."""
    require_fetchable(store, remote)
    pushes = _values(store, f"remote.{remote}.push")
    fetches = _values(store, f"remote.{remote}.fetch")
    added: list[str] = []
    if PUSH_RUNS not in pushes:
        if not pushes:
            # Without it, plain `git push` would push only runs, not the current branch.
            _add(store, f"remote.{remote}.push", "HEAD")
            _set(store, ADDED_HEAD_KEY.format(remote=remote), "true")
            added.append(f"remote.{remote}.push = HEAD")
        _add(store, f"remote.{remote}.push", PUSH_RUNS)
        added.append(f"remote.{remote}.push = {PUSH_RUNS}")
    if fetch_refspec(remote) not in fetches:
        _add(store, f"remote.{remote}.fetch", fetch_refspec(remote))
        added.append(f"remote.{remote}.fetch = {fetch_refspec(remote)}")
    return SetupChange(added, [])


def undo_setup(store: Store, remote: str) -> SetupChange:
    """Remove what setup added; leaves fetched runs and every other setting alone."""
    require_remote(store, remote)
    removed: list[str] = []
    if PUSH_RUNS in _values(store, f"remote.{remote}.push"):
        _unset(store, f"remote.{remote}.push", PUSH_RUNS)
        removed.append(f"remote.{remote}.push = {PUSH_RUNS}")
    added_head_key = ADDED_HEAD_KEY.format(remote=remote)
    if _values(store, added_head_key) == ["true"]:
        if "HEAD" in _values(store, f"remote.{remote}.push"):
            _unset(store, f"remote.{remote}.push", "HEAD")
            removed.append(f"remote.{remote}.push = HEAD")
        _git(store, "config", "--unset-all", added_head_key)
    if fetch_refspec(remote) in _values(store, f"remote.{remote}.fetch"):
        _unset(store, f"remote.{remote}.fetch", fetch_refspec(remote))
        removed.append(f"remote.{remote}.fetch = {fetch_refspec(remote)}")
    return SetupChange([], removed)


def remotes_set_up(store: Store) -> list[str]:
    """The remotes whose push refspecs carry runs (``setup_remote`` ran for them)."""
    return [r for r in store.remote_names() if PUSH_RUNS in _values(store, f"remote.{r}.push")]


def _values(store: Store, key: str) -> list[str]:
    result = run_git(store, ["config", "--local", "--get-all", key])
    return result.stdout.splitlines() if result.returncode == 0 else []


def _add(store: Store, key: str, value: str) -> None:
    _git(store, "config", "--local", "--add", key, value)


def _set(store: Store, key: str, value: str) -> None:
    _git(store, "config", "--local", key, value)


def _unset(store: Store, key: str, value: str) -> None:
    _git(store, "config", "--local", "--unset-all", key, f"^{re.escape(value)}$")


def _git(store: Store, *args: str) -> None:
    result = run_git(store, args)
    if result.returncode != 0:
        raise RemoteError(
            f"git {' '.join(args)} failed: {result.stderr.strip()}",
            "check the repository's config with 'git config --list --local'",
        )
