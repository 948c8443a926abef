"""A cheap fingerprint of the run refs, so that a warm query can skip listing them.

Listing 10,000 refs through libgit2 and matching each name costs about 40 ms, more than
the rest of a filtered search. The refs live in two places git only ever changes in ways
a ``stat`` sees:

- ``packed-refs``, rewritten whole (a new file renamed into place: a new inode, size and
  times; a writer that rewrites it in place still changes its mtime);
- loose ref files under ``refs/runs/`` and ``refs/remote-runs/``: git, libgit2, JGit and
  dulwich (and gitruns) write a ref as ``<ref>.lock`` and rename it, and delete it by
  unlinking, so the folder's mtime moves with every ref created, updated or deleted
  (git's own untracked cache relies on the same property of folders). The files are
  stat-ed too, for writers that rewrite a ref file in place.

The fingerprint lists ``(path, inode, size, mtime, ctime)`` of ``packed-refs``, ``refs/``,
and every folder and file under the run prefixes. It is only recorded when every mtime
in it is older than ``RACY_NS`` (as git's index treats "racily clean" files): a change in
the same clock tick as the recording would otherwise leave an equal mtime. A symlink among
these paths (a legacy symbolic ref, a linked-in folder) leaves no fingerprint either. A later change
to any of these paths gives a different stat; a new folder or file changes its parent
folder, which is in the list. Checking costs one ``stat`` a path: a few when the refs
are packed (``gitruns`` packs them in the background), one per loose ref otherwise.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX

RACY_NS = 3_000_000_000  # an mtime this recent (or in the future) is not trusted
_ROOTS = ("packed-refs", "refs", RUNS_PREFIX.rstrip("/"), REMOTE_RUNS_PREFIX.rstrip("/"))
_ABSENT = "-"


def take(common_dir: Path) -> str | None:
    """The fingerprint of the run refs now, or None when some path changed too recently
    to be trusted (or cannot be read): the caller then lists the refs every time."""
    now = time.time_ns()
    lines: list[str] = []
    for root in _ROOTS:
        entry = _stat_line(common_dir, root, now)
        if entry is None:
            return None
        lines.append(entry)
    for root in _ROOTS[2:]:
        if not _walk(common_dir, root, now, lines):
            return None
    return "\n".join(lines)


def unchanged(common_dir: Path, recorded: str) -> bool:
    """True when every path of a fingerprint ``take`` recorded stats the same now."""
    for line in recorded.split("\n"):
        path, _, stats = line.partition("\t")
        try:
            st = os.stat(common_dir / path, follow_symlinks=False)
        except FileNotFoundError:
            current = _ABSENT
        except OSError:
            return False
        else:
            current = f"{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"
        if current != stats:
            return False
    return True


def _stat_line(common_dir: Path, path: str, now: int) -> str | None:
    try:
        st = os.stat(common_dir / path, follow_symlinks=False)
    except FileNotFoundError:
        return f"{path}\t{_ABSENT}"
    except OSError:
        return None
    if st.st_mtime_ns > now - RACY_NS or stat.S_ISLNK(st.st_mode):
        return None  # too recent to trust; or a symlink, whose target a stat here misses
    return f"{path}\t{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _walk(common_dir: Path, folder: str, now: int, lines: list[str]) -> bool:
    """Add every entry under ``folder`` (already listed itself); False when one is racy
    or the folder cannot be read."""
    try:
        with os.scandir(common_dir / folder) as entries:
            names = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)
    except FileNotFoundError:
        return True  # absent: its line says so, and creating it changes its parent
    except OSError:
        return False
    for name, is_dir in names:
        path = f"{folder}/{name}"
        entry = _stat_line(common_dir, path, now)
        if entry is None:
            return False
        lines.append(entry)
        if is_dir and not _walk(common_dir, path, now, lines):
            return False
    return True
