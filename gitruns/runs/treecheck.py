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

Objects stay raw bytes (ids are never decoded; git answers each with its type and size,
not its id) and each run is first walked on a fast path that can only say "passes"
(``_FastWalk``: a folder judged by its shape, its modes and names, once a path prefix;
file sizes once for the batch); a run it cannot pass goes to the exact walk (``_Walk``),
which finds and words the problem as the per-object check does.
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Mapping, Sequence
from itertools import chain, compress
from typing import TYPE_CHECKING, Protocol, cast

from gitruns.format.treeorder import names_as_git_writes
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
        with CatFileSession(store, without_ids=True) as reads:
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
    unknown = [commit for _, commit in runs if commit not in root_trees]
    listing = ("\n".join(unknown) + "\n").encode()
    commits = iter(reads.read_typed(listing, len(unknown)))  # in the order of ``runs``
    for ref_name, commit in runs:
        if commit in root_trees:
            root = _hex_root(root_trees[commit], len(commit))
        else:
            root = _root_tree(next(commits), len(commit))
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
        if fast.run(root):
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
    return _from_hex(tree)


def _root_tree(found: tuple[bytes, bytes] | None, id_length: int) -> bytes | None:
    if found is None or found[0] != b"commit" or not found[1].startswith(b"tree "):
        return None
    end = found[1].find(b"\n")
    root = found[1][5:end]
    if len(root) != id_length:
        return None
    return _from_hex(root.decode("ascii", errors="replace"))


def _from_hex(digits: str) -> bytes | None:
    # bytes.fromhex skips spaces: "ab cd" would read as a 2-byte id, and a short id
    # would shift every other id of a pass's listing (gitbatch.hex_listing).
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    return raw if len(raw) * 2 == len(digits) else None


class _Shape:
    """What every folder with the same entries but for their ids has in common: its modes
    and names, which entries are files and folders, and, by path prefix, the fast walk's
    plan (``plans``). Shapes are kept by their entries' ``<mode> <name>\\0`` joined (names
    hold no NUL, so no two shapes join alike). Runs repeat a few shapes (every run's root
    holds ``run.yaml``, ``params.yaml``... ``metrics/``), so most folders cost a lookup."""

    __slots__ = (
        "any_folder",
        "broken",
        "files",
        "folders",
        "modes",
        "names",
        "plans",
        "splits",
        "template",
    )

    def __init__(self, headers: list[bytes]) -> None:
        splits = [header.partition(b" ") for header in headers]  # modes hold no space
        self.modes = [mode for mode, _, _ in splits]
        self.names = [rest[:-1] for _, _, rest in splits]  # the NUL that ends each name
        self.files = [
            mode == b"100644" or mode == b"100755" or _mode(mode) in MODE_BLOBS
            for mode in self.modes
        ]
        self.folders = [_is_tree(mode) for mode in self.modes]
        self.any_folder = any(self.folders)
        # a zero-padded mode, or names unsorted or twice (fsck --strict calls such a tree
        # broken): no folder of this shape can be read
        self.broken = _zero_padded(self.modes) or not names_as_git_writes(self.modes, self.names)
        # prefix -> ((index, path prefix below it) of each folder), or None when an entry
        # is not plain or a path fails the rules: the fast walk cannot pass the folder there
        self.plans: dict[bytes, tuple[tuple[int, bytes], ...] | None] = {}
        # the whole tree of this shape, each id a group (see _Parser), once it was split
        # _TEMPLATE_AFTER times
        self.template: re.Pattern[bytes] | None = None
        self.splits = 0


# A folder as the parse leaves it: its shape and its entries' raw ids, in order.
Folder = tuple[_Shape, Sequence[bytes]]

# A template is compiled (0.4 ms for a run's root, 5 ms for 128 entries) for a shape split
# this many times already (a match saves about 1 us a tree over the split), for at most
# so many shapes a check, of at most so many bytes of headers: a batch whose shapes
# never repeat costs what the split does; the worst a crafted one can add is ~0.15 s.
_TEMPLATE_AFTER = 64
_TEMPLATES = 32
_TEMPLATE_BYTES = 4096


class _Parser:
    """Trees parsed into folders. A shape seen often gets a template: its entries' headers
    as literals, each id as ``(.{20})`` (``.`` matching any byte); a tree of the same
    length is first matched whole against it, one call in C, and its ids are the groups.
    A match is exactly the parse the entry split would make (a header fixes where its
    name ends: names hold no NUL, modes no space); a tree that does not match is split."""

    def __init__(self, id_bytes: int) -> None:
        self.id_bytes = id_bytes
        self.entry = _entry_pattern(id_bytes)
        self.shapes: dict[bytes, _Shape] = {}
        self.by_length: dict[int, _Shape] = {}  # body length -> shape last parsed at it
        self.templates = 0

    def folder(self, body: bytes) -> Folder | None:
        """The folder a tree's body holds, or None when it is malformed."""
        shape = self.by_length.get(len(body))
        if shape is not None and shape.template is not None:
            match = shape.template.fullmatch(body)
            if match is not None:
                return shape, match.groups()
        # ("<mode> <name>\0", id) pairs between gaps: a well-formed tree has no gap,
        # whatever a lenient match would make of one that is not.
        parts = self.entry.split(body)
        if any(parts[::3]):
            return None
        headers = parts[1::3]
        key = b"".join(headers)
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = _Shape(headers)
        if shape.broken:
            return None  # git fsck --strict calls the tree broken (never given a template)
        shape.splits += 1
        if (
            shape.splits == _TEMPLATE_AFTER
            and self.templates < _TEMPLATES
            and len(key) <= _TEMPLATE_BYTES
        ):
            self.templates += 1
            literal = b"".join(re.escape(h) + b"(.{%d})" % self.id_bytes for h in headers)
            shape.template = re.compile(literal, re.S)
        self.by_length[len(body)] = shape
        return shape, parts[2::3]


def _read_trees(
    reads: CatFileSession, roots: set[bytes], max_depth: int, id_bytes: int
) -> dict[bytes, Folder | None]:
    """Every folder under ``roots`` down to ``max_depth``: ``{raw id: folder}``, None for
    an object that is missing, not a tree, or malformed."""
    parse = _Parser(id_bytes).folder
    trees: dict[bytes, Folder | None] = {}
    level = list(roots)
    for _ in range(max_depth + 1):
        if not level:
            break
        found = reads.read_typed(hex_listing(level, id_bytes), len(level))
        following: list[bytes] = []
        for tree_id, obj in zip(level, found, strict=True):
            folder = parse(obj[1]) if obj is not None and obj[0] == b"tree" else None
            if folder is not None and folder[0].any_folder:
                following += compress(folder[1], folder[0].folders)
            trees[tree_id] = folder
        level = list(set(following).difference(trees))
    return trees


def _blob_sizes(
    reads: CatFileSession, trees: dict[bytes, Folder | None], id_bytes: int
) -> dict[bytes, int | None]:
    listed = list(filter(None, trees.values()))
    ids = chain.from_iterable([folder[1] for folder in listed])
    files = chain.from_iterable([folder[0].files for folder in listed])
    blobs = list(set(compress(ids, files)))  # each file's id once, picked out in C
    sizes = reads.sizes(hex_listing(blobs, id_bytes), len(blobs))
    return dict(zip(blobs, sizes, strict=True))


_COMMON_MODES = {b"40000": MODE_TREE, b"100644": MODE_BLOBS[0], b"100755": MODE_BLOBS[1]}


def _zero_padded(modes: list[bytes]) -> bool:
    """A mode written with a leading zero (``0100644``, ``040000``): ``git fsck --strict``
    calls the tree broken, so it is a folder that cannot be read (the usual case in C)."""
    return not _COMMON_MODES.keys() >= set(modes) and any(mode[:1] == b"0" for mode in modes)


def _mode(digits: bytes) -> int:
    return _COMMON_MODES.get(digits) or int(digits, 8)


def _is_tree(digits: bytes) -> bool:
    # Only zero-padded digits ("040000") name a folder other than as "40000".
    return digits == b"40000" or (digits[:1] == b"0" and int(digits, 8) == MODE_TREE)


@functools.lru_cache(maxsize=4)
def _entry_pattern(id_bytes: int) -> re.Pattern[bytes]:
    return re.compile(rb"([0-7]++ [^\0]*+\0)(.{%d})" % id_bytes, re.S)


class _FastWalk:
    """The usual case in a few operations a folder: a run passes when every path passed
    the rules, every entry is a folder or a regular file (git's plain modes), every file
    of the batch is there and no bigger than the smallest cap, and the counts are within
    the limits; then no check of ``_Walk`` can fail. Anything else answers False and goes
    to ``_Walk``.

    A folder's paths and modes are judged once by shape and prefix (``_Shape.plans``), so
    a folder costs a lookup and a call a sub-folder, whatever number of files it holds.
    Sizes are looked at once for the whole batch: with no file over the smallest cap (nor
    missing), a run of ``n`` entries holds at most ``n * largest`` bytes, and only a run
    over the byte limit by that bound has its bytes summed (by folder id: a folder's bytes
    do not depend on where it sits)."""

    def __init__(
        self, trees: dict[bytes, Folder | None], sizes: dict[bytes, int | None], rules: Rules
    ) -> None:
        self.trees = trees
        self.sizes = sizes
        self.rules = rules
        self.passed: dict[tuple[bytes, bytes], int] = {}  # (id, prefix) -> entries
        self.totals: dict[bytes, int | None] = {}  # id -> bytes of its files, all folders down
        small = rules.smallest_cap
        values = list(sizes.values())
        self.outsized: set[bytes] = set()  # files missing or over the smallest cap
        if None not in values:  # the usual case, in C
            self.largest: int = max(cast("list[int]", values), default=0)
        if None in values or self.largest > small:
            self.outsized = {oid for oid, size in sizes.items() if size is None or size > small}
            self.largest = max((s for s in values if s is not None and s <= small), default=0)

    def run(self, root: bytes) -> bool:
        """Whether the run whose root folder is ``root`` passes every check."""
        entries = self.tree(root, b"")
        if entries is None:
            return False
        if entries * self.largest <= self.rules.max_total_bytes:
            return True
        total = self.total(root)
        return total is not None and total <= self.rules.max_total_bytes

    def tree(self, tree_id: bytes, prefix: bytes) -> int | None:
        """The entries under the folder at ``prefix``, or None when the fast walk cannot
        pass it there."""
        known = self.passed.get((tree_id, prefix))
        if known is not None:
            return known
        folder = self.trees.get(tree_id)
        if folder is None:
            return None
        shape, ids = folder
        if prefix in shape.plans:
            plan = shape.plans[prefix]
        else:
            plan = shape.plans[prefix] = self._plan(shape, prefix)
        if plan is None or (self.outsized and not self.outsized.isdisjoint(ids)):
            return None
        count = len(ids)
        for index, below in plan:
            found = self.tree(ids[index], below)
            if found is None:
                return None
            count += found
            if count > self.rules.max_entries:
                return None  # at once: a tree bomb is not walked to its end
        if count > self.rules.max_entries:
            return None
        self.passed[(tree_id, prefix)] = count
        return count

    def _plan(self, shape: _Shape, prefix: bytes) -> tuple[tuple[int, bytes], ...] | None:
        plan = []
        for index, (mode, name) in enumerate(zip(shape.modes, shape.names, strict=True)):
            path = prefix + name
            if self.rules.path_problem(path) is not None:
                return None
            if mode == b"40000":
                plan.append((index, path + b"/"))
            elif mode != b"100644" and mode != b"100755":
                return None
        return tuple(plan)

    def total(self, tree_id: bytes) -> int | None:
        """The bytes of every file under a folder the fast walk passed (each time it is
        held), or None when one cannot be sized."""
        if tree_id in self.totals:
            return self.totals[tree_id]
        self.totals[tree_id] = None  # (a folder cannot hold itself: git ids are hashes)
        folder = self.trees.get(tree_id)
        if folder is None:
            return None
        total = 0
        for mode, oid in zip(folder[0].modes, folder[1], strict=True):
            size = self.total(oid) if mode == b"40000" else self.sizes.get(oid)
            if size is None:
                return None
            total += size
        self.totals[tree_id] = total
        return total


class _HexView:
    """The raw reads as ``_Walk`` takes them: listings with int modes, ids in hex."""

    def __init__(self, trees: dict[bytes, Folder | None], sizes: dict[bytes, int | None]) -> None:
        self.trees = trees
        self.sizes = sizes

    def listing(self, tree_id: str) -> Listing | None:
        folder = self.trees.get(bytes.fromhex(tree_id))
        if folder is None:
            return None
        shape, ids = folder
        return [
            (name, _mode(mode), oid.hex())
            for mode, name, oid in zip(shape.modes, shape.names, ids, strict=True)
        ]

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
