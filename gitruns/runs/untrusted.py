"""Fetched runs are untrusted input: check a run's whole tree before it is shown or merged.

``records.load_run`` already checks run.yaml, params, summary and artifacts (schema, safe
YAML, size). This adds what a crafted tree could hold: unsafe paths (``..``, absolute,
``.git``), symlinks and submodules, too many entries, and oversized files. gitruns never
checks a run's tree out, so nothing is written outside the repository in any case; the
checks keep other tools (and people running ``git checkout refs/runs/...``) safe too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from gitruns.errors import GitrunsError, InvalidRunError
from gitruns.format import layout
from gitruns.format.layout import MAX_META_BYTES, MAX_METRIC_BYTES
from gitruns.format.runrefs import NOT_A_RUN, all_run_refs, parse_run_ref
from gitruns.runs.treecheck import MODE_BLOBS, MODE_TREE, NOT_A_COMMIT, check_trees_in_bulk

if TYPE_CHECKING:
    from gitruns.runs.model import Run
    from gitruns.storage import Store

_MODE_TREE = MODE_TREE
_MODE_BLOBS = MODE_BLOBS
_MODE_NAMES = {0o120000: "a symlink", 0o160000: "a submodule"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
# .git, and names that some file systems treat as .git (NTFS short name, trailing dots).
_GIT_NAMES = {".git", "git~1"}
# gitruns.runs.model.MAX_SUMMARY_BYTES (tests/runs/test_treecheck.py checks they agree),
# kept here so that a fetch's checks do not load the run model and its YAML.
_SUMMARY_CAP = 64 * 1024 * 1024
_META_FILES = {layout.RUN_FILE, layout.PARAMS_FILE, layout.SUMMARY_FILE, layout.ARTIFACTS_FILE}


class Limits(NamedTuple):  # not a dataclass: importing dataclasses costs a fetch ~10 ms
    max_entries: int = 250_000  # a run may log budget.MAX_METRIC_KEYS (200,000) metric keys
    max_depth: int = 32
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 256 * 1024**2
    max_metric_bytes: int = MAX_METRIC_BYTES


DEFAULT_LIMITS = Limits()


# Folder listings by id, shared by the checks of one batch of runs (``check_trees``).
TreeMemo = dict[str, list[tuple[bytes, int, int, Any]]]


def check_tree(
    store: Store,
    commit: str,
    where: str,
    limits: Limits = DEFAULT_LIMITS,
    memo: TreeMemo | None = None,
) -> None:
    """Raise InvalidRunError (naming ``where``) when the run's tree is unsafe or too big."""
    if not store.has_commit(commit):
        raise InvalidRunError(f"{where} {NOT_A_COMMIT}", "it is not a gitruns run")
    entries = 0
    total = 0
    for raw_path, mode, size in store.tree_entries(commit, memo):
        entries += 1
        if entries > limits.max_entries:
            raise _invalid(where, f"has more than {limits.max_entries} files and folders")
        problem = _path_problem(raw_path, limits.max_depth)
        if problem is not None:
            raise _invalid(where, problem)
        path = raw_path.decode("utf-8")
        if mode == _MODE_TREE:
            continue
        problem = _file_problem(path, mode, size, limits)
        if problem is not None:
            raise _invalid(where, problem)
        total += size
        if total > limits.max_total_bytes:
            raise _invalid(where, f"is over {limits.max_total_bytes} bytes in all")


def _file_problem(path: str, mode: int, size: int, limits: Limits) -> str | None:
    """What is wrong with a file (not a folder) of a fetched tree, or None."""
    if mode not in _MODE_BLOBS:
        kind = _MODE_NAMES.get(mode, f"an entry of mode {mode:o}")
        return f"holds {kind} at {path}"
    cap = _cap(path, limits)
    if size > cap:
        return f"holds {path} of {size} bytes, over the {cap} byte limit"
    return None


def _cap(path: str, limits: Limits) -> int:
    if path == layout.SUMMARY_FILE:
        return min(_SUMMARY_CAP, limits.max_file_bytes)
    if path in _META_FILES:
        return min(MAX_META_BYTES, limits.max_file_bytes)
    return limits.max_metric_bytes if path.endswith(".csv") else limits.max_file_bytes


@functools.lru_cache(maxsize=8192)
def _path_problem(raw_path: bytes, max_depth: int) -> str | None:
    """What is wrong with a path of a fetched tree, or None. Cached: runs repeat the same
    few paths (``run.yaml``, ``metrics/loss.csv``), so a fetch checks each once."""
    try:
        path = raw_path.decode("utf-8")
    except UnicodeDecodeError:
        return f"holds a file name that is not UTF-8: {raw_path!r}"
    segments = path.split("/")
    if len(segments) > max_depth:
        return f"nests folders deeper than {max_depth}: {path!r}"
    for segment in segments:
        if segment in ("", ".", "..") or _CONTROL.search(segment):
            return f"holds an unsafe path {path!r}"
        if segment.rstrip(". ").lower() in _GIT_NAMES:
            return f"holds a .git path {path!r}"
    return None


def _invalid(where: str, what: str) -> InvalidRunError:
    return InvalidRunError(f"{where} {what}", "it was skipped; ask its author to check the run")


def check_run_ref(
    store: Store,
    ref_name: str,
    run_id: str,
    commit: str,
    limits: Limits = DEFAULT_LIMITS,
    memo: TreeMemo | None = None,
) -> None:
    """The cheap part: the ref is a run ref of ``run_id`` (gitruns.format.runrefs, the same check
    as listing's), and the tree is safe (see ``check_tree``)."""
    parsed = parse_run_ref(ref_name)
    if parsed is None or parsed[1] != run_id:
        raise _invalid(ref_name, NOT_A_RUN)
    check_tree(store, commit, ref_name, limits, memo)


def check_run_refs(
    store: Store,
    refs: list[tuple[str, str, str]],
    limits: Limits = DEFAULT_LIMITS,
    root_trees: Mapping[str, str | None] | None = None,
) -> dict[str, InvalidRunError]:
    """``check_run_ref`` of many ``(ref name, run id, commit)`` in one pass (a fetch): each
    folder the runs share is read once, each path checked once. ``{ref name: error}`` of
    the runs that fail; every run gets every check.

    The objects are read in bulk (``gitruns.runs.treecheck``: a few ``git cat-file``
    processes for all runs), except in a partial clone, whose missing blobs the per-object
    reads of ``check_tree`` know not to fetch. ``root_trees``: the root tree of each commit
    as git listed it, when known (see ``check_trees_in_bulk``)."""
    failed: dict[str, InvalidRunError] = {}
    checkable: list[tuple[str, str]] = []
    if all_run_refs([(ref_name, run_id) for ref_name, run_id, _ in refs]):
        checkable = [(ref_name, commit) for ref_name, _, commit in refs]  # (a fetch's)
    else:
        for ref_name, run_id, commit in refs:
            parsed = parse_run_ref(ref_name)
            if parsed is None or parsed[1] != run_id:
                failed[ref_name] = _invalid(ref_name, NOT_A_RUN)
            else:
                checkable.append((ref_name, commit))
    if store.promisor_remote() is not None:
        memo: TreeMemo = {}
        for ref_name, commit in checkable:
            try:
                check_tree(store, commit, ref_name, limits, memo)
            except InvalidRunError as exc:
                failed[ref_name] = exc
        return failed
    verdicts = check_trees_in_bulk(store, checkable, _Rules(limits), root_trees)
    for ref_name, problem in verdicts.items():
        failed[ref_name] = (
            InvalidRunError(f"{ref_name} {problem}", "it is not a gitruns run")
            if problem == NOT_A_COMMIT
            else _invalid(ref_name, problem)
        )
    return failed


class _Rules:
    """The checks of ``check_tree`` on one path and one file, for the bulk check."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_entries = limits.max_entries
        self.max_depth = limits.max_depth
        self.max_total_bytes = limits.max_total_bytes
        self.smallest_cap = min(
            _SUMMARY_CAP, MAX_META_BYTES, limits.max_metric_bytes, limits.max_file_bytes
        )

    def path_problem(self, raw_path: bytes) -> str | None:
        return _path_problem(raw_path, self.max_depth)

    def file_problem(self, path: str, mode: int, size: int) -> str | None:
        return _file_problem(path, mode, size, self.limits)


def load_untrusted_run(
    store: Store, ref_name: str, run_id: str, commit: str, limits: Limits = DEFAULT_LIMITS
) -> Run:
    """Check the tree, then read and validate the run's metadata (``records.load_run``).

    Errors name ``ref_name`` (e.g. ``refs/remote-runs/origin/<id>``).
    """
    from gitruns.runs.model import load_run

    check_run_ref(store, ref_name, run_id, commit, limits)
    try:
        return load_run(store, run_id, commit)
    except GitrunsError as exc:
        message = exc.message.replace(f"refs/runs/{run_id}", ref_name)
        if ref_name not in message:
            message = f"{ref_name}: {message}"
        raise InvalidRunError(message, exc.hint or "it was skipped") from exc
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # Crafted input may break a reader in ways no schema foresaw: skip, never crash.
        raise _invalid(ref_name, f"cannot be read ({type(exc).__name__}: {exc})") from exc
