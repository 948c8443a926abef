"""``check_tree`` of many fetched runs at once, their objects read in bulk.

The checks are those of ``gitruns.runs.untrusted.check_tree`` (paths, links, submodules,
entry count, depth, sizes; it passes its rules for one path and one file in), made over
objects read with a few ``git cat-file`` processes for all runs together: the commits, then
the folders level by level (each folder once, however many runs share it; never below the
depth limit, where every path fails anyway), then the size of every file. A folder's result
is kept by its id and path, so a folder many runs share (``env/``) is walked once. Work
stays bounded on crafted trees: a folder is read once whatever number of paths lead to it,
and a walk stops at the entry limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from gitruns.runs.gitbatch import object_sizes, parse_tree, read_objects

if TYPE_CHECKING:
    from gitruns.storage import Store

MODE_TREE = 0o040000
MODE_BLOBS = (0o100644, 0o100755)
NOT_A_COMMIT = "does not point at a commit"

Listing = list[tuple[bytes, int, str]]


class _Unsafe(Exception):
    """What is wrong with a run's tree (the text that follows the ref name)."""


class Rules(Protocol):
    """What ``gitruns.runs.untrusted`` says about one path and one file."""

    max_entries: int
    max_depth: int
    max_total_bytes: int
    smallest_cap: int  # no regular file this big or smaller is over its cap

    def path_problem(self, raw_path: bytes) -> str | None: ...

    def file_problem(self, path: str, mode: int, size: int) -> str | None: ...


def check_trees_in_bulk(
    store: Store, runs: Sequence[tuple[str, str]], rules: Rules
) -> dict[str, str]:
    """``{ref name: what is wrong}`` of the ``(ref name, commit)`` runs whose tree fails a
    check (``NOT_A_COMMIT`` when the ref names no commit)."""
    failed: dict[str, str] = {}
    roots: dict[str, str] = {}  # ref name -> root tree id
    commits = read_objects(store, [commit for _, commit in runs])
    for (ref_name, _), found in zip(runs, commits, strict=True):
        root = _root_tree(found)
        if root is None:
            failed[ref_name] = NOT_A_COMMIT
        else:
            roots[ref_name] = root
    trees = _read_trees(store, set(roots.values()), rules.max_depth)
    sizes = _blob_sizes(store, trees)
    walk = _Walk(trees, sizes, rules)
    for ref_name, root in roots.items():
        try:
            walk.tree(root, b"")
        except _Unsafe as exc:
            failed[ref_name] = str(exc)
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
                if mode == MODE_TREE and child not in trees:
                    following.add(child)
        level = sorted(following - trees.keys())
    return trees


def _blob_sizes(store: Store, trees: dict[str, Listing | None]) -> dict[str, int | None]:
    blobs = sorted(
        {oid for listing in trees.values() for _, mode, oid in listing or () if mode in MODE_BLOBS}
    )
    return dict(zip(blobs, object_sizes(store, blobs), strict=True))


class _Walk:
    """The checks of one run's tree over folders already read; a folder's (entries, bytes)
    are kept by (id, path) once it passed, for the next runs that hold it at that path.
    Each path's verdict is kept too (runs repeat ``run.yaml``, ``metrics/loss.csv``), and a
    regular file no bigger than the smallest cap needs no more than that."""

    def __init__(
        self, trees: dict[str, Listing | None], sizes: dict[str, int | None], rules: Rules
    ) -> None:
        self.trees = trees
        self.sizes = sizes
        self.rules = rules
        self.passed: dict[tuple[str, bytes], tuple[int, int]] = {}
        self.paths: dict[bytes, str] = {}  # raw path -> problem, "" when none
        self.small = rules.smallest_cap

    def tree(self, tree_id: str, prefix: bytes) -> tuple[int, int]:
        known = self.passed.get((tree_id, prefix))
        if known is not None:
            return known
        listing = self.trees.get(tree_id)
        if listing is None:
            where = prefix.decode("utf-8", errors="replace").rstrip("/") or "its root"
            raise _Unsafe(f"holds a folder that cannot be read: {where}")
        rules, paths, sizes, small = self.rules, self.paths, self.sizes, self.small
        entries = total = 0
        for name, mode, oid in listing:
            raw_path = prefix + name
            entries += 1
            problem = paths.get(raw_path)
            if problem is None:
                problem = paths[raw_path] = rules.path_problem(raw_path) or ""
            if problem:
                raise _Unsafe(problem)
            if mode == MODE_TREE:
                below, size = self.tree(oid, raw_path + b"/")
                entries += below
            else:
                found = sizes.get(oid, 0) if mode in MODE_BLOBS else 0
                if found is None or found > small or mode not in MODE_BLOBS:
                    size = self._file(raw_path.decode("utf-8"), mode, found)
                else:
                    size = found
            total += size
            if entries > rules.max_entries:
                raise _Unsafe(f"has more than {rules.max_entries} files and folders")
            if total > rules.max_total_bytes:
                raise _Unsafe(f"is over {rules.max_total_bytes} bytes in all")
        self.passed[(tree_id, prefix)] = (entries, total)
        return entries, total

    def _file(self, path: str, mode: int, size: int | None) -> int:
        problem = self.rules.file_problem(path, mode, size or 0)
        if problem is not None:
            raise _Unsafe(problem)
        if size is None:
            raise _Unsafe(f"holds {path}, whose content is missing")
        return size
