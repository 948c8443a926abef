"""``check_tree`` of many fetched runs at once, their objects read in bulk.

The checks are those of ``gitruns.runs.untrusted.check_tree`` (paths, links, submodules,
entry count, depth, sizes; it passes its rules for one path and one file in), made over
objects read through one ``git cat-file`` process for all runs together (``catfile_session``;
one a pass where git is older than 2.36): the commits, then the folders level by level
(each folder once, however many runs share it; never below the depth limit, where every
path fails anyway), then the size of every file. A folder's result
is kept by its id and path, so a folder many runs share (``env/``) is walked once. Work
stays bounded on crafted trees: a folder is read once whatever number of paths lead to it,
and a walk stops at the entry limit.

Objects stay raw bytes (ids are never decoded) and each run is first walked on a fast path
that can only say "passes" (``_FastWalk``); a run it cannot pass goes to the exact walk
(``_Walk``), which finds and words the problem as the per-object check does.
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Mapping, Sequence
from itertools import chain, compress
from typing import TYPE_CHECKING, Protocol

from gitruns.runs.catfile_session import CatFileSession
from gitruns.runs.gitbatch import hex_listing

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
    store: Store,
    runs: Sequence[tuple[str, str]],
    rules: Rules,
    root_trees: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """``{ref name: what is wrong}`` of the ``(ref name, commit)`` runs whose tree fails a
    check (``NOT_A_COMMIT`` when the ref names no commit).

    ``root_trees``: ``{object id: its root tree id, None when it is not a commit}`` as git
    parsed the objects (``git for-each-ref`` with ``%(objecttype) %(tree)``); the commits
    it does not hold are read here."""
    collecting = gc.isenabled()
    gc.disable()  # tens of thousands of lists and slices, no cycle among them: nothing to free
    try:
        # every pass (commits, folder levels, sizes) through one git process
        with CatFileSession(store) as reads:
            return _check(reads, runs, rules, root_trees or {})
    finally:
        if collecting:
            gc.enable()


def _check(
    reads: CatFileSession,
    runs: Sequence[tuple[str, str]],
    rules: Rules,
    root_trees: Mapping[str, str | None],
) -> dict[str, str]:
    failed: dict[str, str] = {}
    roots: dict[str, bytes] = {}  # ref name -> raw root tree id
    unknown = [(ref_name, commit) for ref_name, commit in runs if commit not in root_trees]
    listing = "".join(f"{commit}\n" for _, commit in unknown).encode()
    commits = dict(zip(unknown, reads.read_raw(listing, len(unknown)), strict=True))
    for ref_name, commit in runs:
        if commit in root_trees:
            root = _hex_root(root_trees[commit], len(commit))
        else:
            root = _root_tree(commits[ref_name, commit])
        if root is None:
            failed[ref_name] = NOT_A_COMMIT
        else:
            roots[ref_name] = root
    if not roots:
        return failed
    id_bytes = len(next(iter(roots.values())))
    trees = _read_trees(reads, set(roots.values()), rules.max_depth, id_bytes)
    sizes = _blob_sizes(reads, trees, id_bytes)
    fast = _FastWalk(trees, sizes, rules)
    exact: _Walk | None = None
    for ref_name, root in roots.items():
        if fast.tree(root, b"") is not None:
            continue
        # Something is off (or past the fast walk's shortcuts): the exact walk decides,
        # and words what is wrong exactly as the per-object check does.
        exact = exact or _Walk(_HexView(trees, sizes), rules)
        try:
            exact.tree(root.hex(), b"")
        except _Unsafe as exc:
            failed[ref_name] = str(exc)
    return failed


def _hex_root(tree: str | None, id_length: int) -> bytes | None:
    if tree is None or len(tree) != id_length:
        return None
    try:
        return bytes.fromhex(tree)
    except ValueError:
        return None


def _root_tree(found: tuple[bytes, bytes, bytes] | None) -> bytes | None:
    if found is None or found[1] != b"commit" or not found[2].startswith(b"tree "):
        return None
    end = found[2].find(b"\n")
    root = found[2][5:end]
    if len(root) != len(found[0]):
        return None
    try:
        return bytes.fromhex(root.decode("ascii"))
    except ValueError:
        return None


# A tree as the parse leaves it: its entries' mode digits, names and raw ids, in three
# lists (no tuple an entry: a fetch of 10,000 runs parses 20,000 folders).
RawEntries = tuple[list[bytes], list[bytes], list[bytes]]


def _read_trees(
    reads: CatFileSession, roots: set[bytes], max_depth: int, id_bytes: int
) -> dict[bytes, RawEntries | None]:
    """Every folder under ``roots`` down to ``max_depth``: ``{raw id: entries}``, None for
    an object that is missing, not a tree, or malformed."""
    entry = _entry_pattern(id_bytes)
    trees: dict[bytes, RawEntries | None] = {}
    level = list(roots)
    for _ in range(max_depth + 1):
        if not level:
            break
        found = reads.read_raw(hex_listing(level, id_bytes), len(level))
        following: list[bytes] = []
        for tree_id, obj in zip(level, found, strict=True):
            entries: RawEntries | None = None
            if obj is not None and obj[1] == b"tree":
                # (mode, name, id) groups between gaps: a well-formed tree has no gap,
                # whatever a lenient match would make of one that is not.
                parts = entry.split(obj[2])
                if not any(parts[::4]) and not _zero_padded(parts[1::4]):
                    entries = (parts[1::4], parts[2::4], parts[3::4])
            trees[tree_id] = entries
            if not entries:
                pass
            elif _PLAIN_MODES.issuperset(entries[0]):  # the usual case, in C
                following += compress(entries[2], map(_FOLDER.__eq__, entries[0]))
            else:
                following += [
                    oid
                    for mode, oid in zip(entries[0], entries[2], strict=True)
                    if mode == b"40000" or (mode[:1] == b"0" and _is_tree(mode))
                ]
        level = list(set(following).difference(trees))
    return trees


def _blob_sizes(
    reads: CatFileSession, trees: dict[bytes, RawEntries | None], id_bytes: int
) -> dict[bytes, int | None]:
    listed = list(filter(None, trees.values()))
    modes = list(chain.from_iterable([entries[0] for entries in listed]))
    if _PLAIN_MODES.issuperset(modes):  # the usual case: the files picked out in C
        ids = chain.from_iterable([entries[2] for entries in listed])
        blobs = list(set(compress(ids, map(_FOLDER.__ne__, modes))))
    else:
        blobs = list(
            {
                oid
                for modes, _, ids in listed
                for mode, oid in zip(modes, ids, strict=True)
                if mode == b"100644" or mode == b"100755" or _mode(mode) in MODE_BLOBS
            }
        )
    sizes = reads.raw_sizes(hex_listing(blobs, id_bytes), len(blobs))
    return dict(zip(blobs, sizes, strict=True))


_FOLDER = b"40000"
_PLAIN_MODES = frozenset((_FOLDER, b"100644", b"100755"))  # as git writes them
_COMMON_MODES = {b"40000": MODE_TREE, b"100644": MODE_BLOBS[0], b"100755": MODE_BLOBS[1]}


def _zero_padded(modes: list[bytes]) -> bool:
    """A mode written with a leading zero (``0100644``, ``040000``): ``git fsck --strict``
    calls the tree broken, so it is a folder that cannot be read (the usual case in C)."""
    return not _PLAIN_MODES.issuperset(modes) and any(mode[:1] == b"0" for mode in modes)


def _mode(digits: bytes) -> int:
    return _COMMON_MODES.get(digits) or int(digits, 8)


def _is_tree(digits: bytes) -> bool:
    # Only zero-padded digits ("040000") name a folder other than as "40000".
    return digits == b"40000" or (digits[:1] == b"0" and int(digits, 8) == MODE_TREE)


@functools.lru_cache(maxsize=4)
def _entry_pattern(id_bytes: int) -> re.Pattern[bytes]:
    return re.compile(rb"([0-7]+) ([^\0]*)\0(.{%d})" % id_bytes, re.S)


class _FastWalk:
    """The usual case in a few operations an entry: a run passes when every path passed
    the rules, every entry is a folder or a regular file no bigger than the smallest cap,
    and the counts are within the limits; then no check of ``_Walk`` can fail. Anything
    else answers None and goes to ``_Walk``. A folder's (entries, bytes) are kept by (id,
    path) and each path's verdict by path, as there."""

    def __init__(
        self, trees: dict[bytes, RawEntries | None], sizes: dict[bytes, int | None], rules: Rules
    ) -> None:
        self.trees = trees
        self.sizes = sizes
        self.rules = rules
        self.passed: dict[tuple[bytes, bytes], tuple[int, int]] = {}
        self.paths: dict[bytes, bool] = {}  # raw path -> no problem
        self.small = rules.smallest_cap

    def tree(self, tree_id: bytes, prefix: bytes) -> tuple[int, int] | None:
        known = self.passed.get((tree_id, prefix))
        if known is not None:
            return known
        entries = self.trees.get(tree_id)
        if entries is None:
            return None
        paths, sizes, small = self.paths, self.sizes, self.small
        count, total = len(entries[0]), 0
        for mode, name, oid in zip(*entries, strict=True):
            path = prefix + name
            fine = paths.get(path)
            if fine is None:
                fine = paths[path] = self.rules.path_problem(path) is None
            if not fine:
                return None
            if mode == b"100644" or mode == b"100755":
                size = sizes.get(oid)
                if size is None or size > small:
                    return None
                total += size
            elif mode == b"40000":
                below = self.tree(oid, path + b"/")
                if below is None:
                    return None
                count += below[0]
                total += below[1]
                if count > self.rules.max_entries:
                    return None  # at once: a tree bomb is not walked to its end
            else:
                return None
        if count > self.rules.max_entries or total > self.rules.max_total_bytes:
            return None
        self.passed[(tree_id, prefix)] = (count, total)
        return count, total


class _HexView:
    """The raw reads as ``_Walk`` takes them: listings with int modes, ids in hex."""

    def __init__(
        self, trees: dict[bytes, RawEntries | None], sizes: dict[bytes, int | None]
    ) -> None:
        self.trees = trees
        self.sizes = sizes

    def listing(self, tree_id: str) -> Listing | None:
        entries = self.trees.get(bytes.fromhex(tree_id))
        if entries is None:
            return None
        return [(name, _mode(mode), oid.hex()) for mode, name, oid in zip(*entries, strict=True)]

    def size(self, oid: str) -> int | None:
        return self.sizes.get(bytes.fromhex(oid), 0)


class _Walk:
    """The checks of one run's tree over folders already read; a folder's (entries, bytes)
    are kept by (id, path) once it passed, for the next runs that hold it at that path.
    Each path's verdict is kept too (runs repeat ``run.yaml``, ``metrics/loss.csv``), and a
    regular file no bigger than the smallest cap needs no more than that."""

    def __init__(self, view: _HexView, rules: Rules) -> None:
        self.view = view
        self.rules = rules
        self.passed: dict[tuple[str, bytes], tuple[int, int]] = {}
        self.paths: dict[bytes, str] = {}  # raw path -> problem, "" when none
        self.small = rules.smallest_cap

    def tree(self, tree_id: str, prefix: bytes) -> tuple[int, int]:
        known = self.passed.get((tree_id, prefix))
        if known is not None:
            return known
        listing = self.view.listing(tree_id)
        if listing is None:
            where = prefix.decode("utf-8", errors="replace").rstrip("/") or "its root"
            raise _Unsafe(f"holds a folder that cannot be read: {where}")
        rules, paths, size_of, small = self.rules, self.paths, self.view.size, self.small
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
                found = size_of(oid) if mode in MODE_BLOBS else 0
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
