"""A process's repository, kept from one run it records to the next.

Opening the repository is a good part of a small run's cost when a process records run
after run (a sweep): a new ``Store`` opens libgit2's repository (0.1 ms), then its first
status reads the index anew, its first object lookup lists the packs and maps an index,
and its first identity reads the git config (0.3-0.4 ms more, measured). So the owner of a
run that ended keeps its ``Store`` for the next ``start_run`` of the process, which takes
it when nothing it depends on has changed since:

- the same process (a forked child opens its own), the same place asked for (``repo``,
  ``GITRUNS_REPO`` or the working directory) finding the same git folder (the same inode);
- the same config files (repository, ``~/.gitconfig``, ``$XDG_CONFIG_HOME/git/config``:
  inode, time and size), so the identity and settings a ``Store`` keeps are current;
- ``objects/pack`` unchanged since the run's own pack went in: libgit2 keeps every pack it
  has opened mapped, even once a ``git repack`` (our background compaction's, or anyone's)
  has deleted it, so a ``Store`` is dropped as soon as someone else changed the packs, and
  a deleted pack's disk space is not held for longer than by the last run's ``Store``,
  which the finished ``ActiveRun`` holds anyway. (A change within the same tick of the
  file system's clock as the stamp goes unseen until the next one: the ``Store`` is then
  only older; libgit2 finds new packs on a miss, and a run's ``Store`` opens few packs,
  those holding HEAD's commit, never the runs' own.)

One ``Store`` is kept (the last); a run takes it away while it runs, so two threads never
share one. Recovery of crashed runs happens as when the repository is opened.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

from gitruns.recording.repository import ENV_REPO, open_store, recover_staged

if TYPE_CHECKING:
    from gitruns.storage import Store

_StatKey = tuple[int, int, int, int] | None


class _Kept:
    def __init__(self, store: Store, start: str, found: str) -> None:
        self.store = store
        self.start = start
        self.found = found  # the git folder discovered from ``start``
        self._paths = (
            os.path.join(store.common_dir, "config"),
            os.path.join(os.path.expanduser("~"), ".gitconfig"),
            os.path.join(
                os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
                "git",
                "config",
            ),
            os.path.join(store.objects_dir, "pack"),
        )
        self._git_dir = os.fspath(store.git_dir)
        self.stamp = self._stamp()

    def _stamp(self) -> tuple[object, ...]:
        try:
            folder = os.stat(self._git_dir)
        except OSError:
            return (None,)
        return (
            os.getpid(),
            folder.st_dev,
            folder.st_ino,
            *map(_stat_key, self._paths),
        )

    def still_valid(self, start: str) -> bool:
        from gitruns.storage import git_dir_at

        return (
            start == self.start and self._stamp() == self.stamp and git_dir_at(start) == self.found
        )


_kept: _Kept | None = None
_lock = threading.Lock()
# Where each Store handed out for a run was opened from (git folder found, start path).
_opened: weakref.WeakKeyDictionary[Store, tuple[str, str]] = weakref.WeakKeyDictionary()


def open_for_run(repo: str | os.PathLike[str] | None) -> Store:
    """The repository for a new run: the last run's ``Store`` when still valid (see the
    module's text), else a newly opened one (``open_store``)."""
    global _kept
    start = os.fspath(repo) if repo is not None else os.environ.get(ENV_REPO) or os.getcwd()
    with _lock:
        kept, _kept = _kept, None
    if kept is not None and kept.still_valid(start):
        recover_staged(kept.store)
        _opened[kept.store] = (kept.found, start)
        return kept.store
    from gitruns.storage import git_dir_at

    found = git_dir_at(start)
    store = open_store(start)
    if found is not None:
        _opened[store] = (found, start)
    return store


def keep(store: Store) -> None:
    """After a run's ref exists: keep its ``Store`` for the process's next run (only one
    that ``open_for_run`` handed out)."""
    global _kept
    opened = _opened.get(store)
    if opened is None:
        return
    kept = _Kept(store, opened[1], opened[0])
    with _lock:
        _kept = kept


def _stat_key(path: str) -> _StatKey:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def _forget_after_fork() -> None:
    global _kept, _lock
    _kept, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
