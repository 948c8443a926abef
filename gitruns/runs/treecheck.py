"""``check_tree`` of many fetched runs at once, their objects read in bulk.

The checks are those of ``gitruns.runs.untrusted.check_tree`` (paths, links, submodules,
entry count, depth, sizes), made over objects read with a few ``git cat-file`` processes for
all runs together: the commits, then the folders level by level (each folder once, however
many runs share it; never below the depth limit, where every path fails anyway), then the
size of every file. A folder's result is kept by its id and path, so a folder many runs
share (``env/``) is walked once. Work stays bounded on crafted trees: a folder is read once
whatever number of paths lead to it, and a walk stops at the entry limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitruns.errors import InvalidRunError
from gitruns.runs.gitbatch import object_sizes, parse_tree, read_objects
from gitruns.runs.untrusted import (
    _MODE_BLOBS,
    _MODE_NAMES,
    _MODE_TREE,
    Limits,
    _cap,
    _invalid,
    _path_problem,
)
from gitruns.storage import Store

Listing = list[tuple[bytes, int, str]]


class _Unsafe(Exception):
    """What is wrong with a run's tree (the text that follows the ref name)."""


def check_trees_in_bulk(
    store: Store, runs: Sequence[tuple[str, str]], limits: Limits
) -> dict[str, InvalidRunError]:
    """``{ref name: error}`` of the ``(ref name, commit)`` runs whose tree fails a check."""
    failed: dict[str, InvalidRunError] = {}
    roots: dict[str, str] = {}  # ref name -> root tree id
    commits = read_objects(store, [commit for _, commit in runs])
    for (ref_name, _), found in zip(runs, commits, strict=True):
        root = _root_tree(found)
        if root is None:
            failed[ref_name] = InvalidRunError(
                f"{ref_name} does not point at a commit", "it is not a gitruns run"
            )
        else:
            roots[ref_name] = root
    trees = _read_trees(store, set(roots.values()), limits.max_depth)
    sizes = _blob_sizes(store, trees)
    walk = _Walk(trees, sizes, limits)
    for ref_name, root in roots.items():
        try:
            walk.tree(root, b"")
        except _Unsafe as exc:
            failed[ref_name] = _invalid(ref_name, str(exc))
    return failed


def _root_tree(found: tuple[str, str, bytes] | None) -> str | None:
    if found is None or found[1] != "commit" or not found[2].startswith(b"tree "):
        return None
    end = found[2].find(b"\n")
    root = found[2][5:end].decode("ascii", errors="replace")
    return root if len(root) == len(found[0]) else None


def _read_trees(store: Store, roots: set[str], max_depth: int) -> dict[str, Listing | None]:
    """Every folder under ``roots`` down to ``max_depth``: ``{id: entries}``, None for an
    object that is missing, not a tree, or malformed."""
    trees: dict[str, Listing | None] = {}
    level = sorted(roots)
    for _ in range(max_depth + 1):
        if not level:
            break
        found = read_objects(store, level)
        following: set[str] = set()
        for tree_id, obj in zip(level, found, strict=True):
            listing: Listing | None = None
            if obj is not None and obj[1] == "tree":
                try:
                    listing = parse_tree(obj[2], len(obj[0]) // 2)
                except ValueError:
                    listing = None
            trees[tree_id] = listing
            for _name, mode, child in listing or ():
                if mode == _MODE_TREE and child not in trees:
                    following.add(child)
        level = sorted(following - trees.keys())
    return trees


def _blob_sizes(store: Store, trees: dict[str, Listing | None]) -> dict[str, int | None]:
    blobs = sorted(
        {oid for listing in trees.values() for _, mode, oid in listing or () if mode in _MODE_BLOBS}
    )
    return dict(zip(blobs, object_sizes(store, blobs), strict=True))


class _Walk:
    """The checks of one run's tree over folders already read; a folder's (entries, bytes)
    are kept by (id, path) once it passed, for the next runs that hold it at that path."""

    def __init__(
        self, trees: dict[str, Listing | None], sizes: dict[str, int | None], limits: Limits
    ) -> None:
        self.trees = trees
        self.sizes = sizes
        self.limits = limits
        self.passed: dict[tuple[str, bytes], tuple[int, int]] = {}

    def tree(self, tree_id: str, prefix: bytes) -> tuple[int, int]:
        known = self.passed.get((tree_id, prefix))
        if known is not None:
            return known
        listing = self.trees.get(tree_id)
        if listing is None:
            where = prefix.decode("utf-8", errors="replace").rstrip("/") or "its root"
            raise _Unsafe(f"holds a folder that cannot be read: {where}")
        limits = self.limits
        entries = total = 0
        for name, mode, oid in listing:
            raw_path = prefix + name
            entries += 1
            problem = _path_problem(raw_path, limits.max_depth)
            if problem is not None:
                raise _Unsafe(problem)
            if mode == _MODE_TREE:
                below, size = self.tree(oid, raw_path + b"/")
                entries += below
            else:
                size = self._file_size(raw_path.decode("utf-8"), mode, oid)
            total += size
            if entries > limits.max_entries:
                raise _Unsafe(f"has more than {limits.max_entries} files and folders")
            if total > limits.max_total_bytes:
                raise _Unsafe(f"is over {limits.max_total_bytes} bytes in all")
        self.passed[(tree_id, prefix)] = (entries, total)
        return entries, total

    def _file_size(self, path: str, mode: int, oid: str) -> int:
        if mode not in _MODE_BLOBS:
            kind = _MODE_NAMES.get(mode, f"an entry of mode {mode:o}")
            raise _Unsafe(f"holds {kind} at {path}")
        size = self.sizes.get(oid)
        if size is None:
            raise _Unsafe(f"holds {path}, whose content is missing")
        cap = _cap(path, self.limits)
        if size > cap:
            raise _Unsafe(f"holds {path} of {size} bytes, over the {cap} byte limit")
        return size
