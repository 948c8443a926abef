"""Verdicts on many fetched runs' trees from each distinct folder once, when they are plain.

Objects are content-addressed: a folder id has one listing, a blob id one size, whichever
run holds them. What makes a path unsafe is a property of its segments (each one is a
folder or file name) and of its depth, so when every name of every folder read is a safe
segment on its own, every entry is a folder (``40000``) or a regular file (``100644``,
``100755``), no id is listed both as a folder and as a file, and every file is present and
no bigger than the smallest cap, then no path check and no file check can fail in any run,
wherever its folders sit. What is left depends on the folder alone: how many entries lie
below it, how many bytes, how deep. ``PlainFolders`` works those out once a folder id (a
run's root, ``env/`` shared by thousands of runs), and a run passes when its root's figures
are within the limits.

Anything else (a symlink, a bad name anywhere in the batch, a large file, a folder that
cannot be read) gives no verdict here: the caller's walks (``runs.treecheck``) decide, with
the per-path checks and wording of ``runs.untrusted.check_tree``. This only ever says
"passes", and only when those walks would say so.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from itertools import chain, compress
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gitruns.runs.treecheck import RawEntries

FOLDER = b"40000"
_PLAIN_MODES = frozenset((FOLDER, b"100644", b"100755"))


class PlainRules(Protocol):
    max_entries: int
    max_depth: int
    max_total_bytes: int
    smallest_cap: int

    def path_problem(self, raw_path: bytes) -> str | None: ...


def is_plain_listing(modes: list[bytes]) -> bool:
    """Whether one folder's entries are all folders or regular files (canonical modes)."""
    return _PLAIN_MODES.issuperset(modes)


def plain_files(
    trees: dict[bytes, RawEntries | None], rules: PlainRules
) -> tuple[set[bytes], set[bytes]] | None:
    """``(file ids, folder ids)`` listed in ``trees`` when every listing read is plain:
    canonical modes only, every name a safe path segment (no ``/``), no id both a file and a
    folder. None otherwise (the per-run walks decide then)."""
    listed = [entries for entries in trees.values() if entries is not None]
    modes = list(chain.from_iterable([entries[0] for entries in listed]))
    if not _PLAIN_MODES.issuperset(modes):
        return None
    for name in set(chain.from_iterable([entries[1] for entries in listed])):
        if b"/" in name or rules.path_problem(name) is not None:
            return None
    ids = list(chain.from_iterable([entries[2] for entries in listed]))
    is_folder = list(map(FOLDER.__eq__, modes))
    folders = set(compress(ids, is_folder))
    files = set(compress(ids, map(operator.not_, is_folder)))
    if not folders.isdisjoint(files):
        return None
    return files, folders


class PlainFolders:
    """``failing(roots)``: the runs whose folders ``plain_files`` found plain, given every file's
    size (``sizes``: none missing, none over ``rules.smallest_cap``; the caller checks)."""

    def __init__(
        self,
        trees: dict[bytes, RawEntries | None],
        sizes: dict[bytes, int],
        folders: set[bytes],
        rules: PlainRules,
    ) -> None:
        self.trees = trees
        self.size_of = dict(sizes)
        self.size_of.update(dict.fromkeys(folders, 0))  # a folder's bytes are its files'
        self.rules = rules
        # folder id -> (entries below it, bytes below it, depth of its deepest path), or
        # None when a folder under it could not be read (or was not: past the depth read).
        self.figures: dict[bytes, tuple[int, int, int] | None] = {}

    def failing(self, roots: Mapping[str, bytes]) -> list[str]:
        """Those of the ``{ref name: root tree id}`` runs that do not pass here (the walks
        decide them)."""
        figures_of, rules = self._figures, self.rules
        most_entries, most_bytes, deepest = (
            rules.max_entries,
            rules.max_total_bytes,
            rules.max_depth,
        )
        failed = []
        for ref_name, root in roots.items():
            found = figures_of(root)
            if (
                found is None
                or found[0] > most_entries
                or found[1] > most_bytes
                or found[2] > deepest
            ):
                failed.append(ref_name)
        return failed

    def _figures(self, tree_id: bytes) -> tuple[int, int, int] | None:
        figures = self.figures
        if tree_id in figures:
            return figures[tree_id]
        listing = self.trees.get(tree_id)
        figures[tree_id] = None  # until it is known (a folder never holds itself)
        if listing is None:
            return None
        modes, _, ids = listing
        entries, size = len(ids), sum(map(self.size_of.__getitem__, ids))
        depth = 1 if ids else 0
        if FOLDER in modes:
            for folder in compress(ids, map(FOLDER.__eq__, modes)):
                below = figures[folder] if folder in figures else self._figures(folder)
                if below is None:
                    return None
                entries += below[0]
                size += below[1]
                if below[2] >= depth:
                    depth = below[2] + 1
        found = figures[tree_id] = (entries, size, depth)
        return found
