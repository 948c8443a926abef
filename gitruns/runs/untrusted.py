"""Fetched runs are untrusted input: check a run's whole tree before it is shown or merged.

``records.load_run`` already checks run.yaml, params, summary and artifacts (schema, safe
YAML, size). This adds what a crafted tree could hold: unsafe paths (``..``, absolute,
``.git``), symlinks and submodules, too many entries, and oversized files. gitruns never
checks a run's tree out, so nothing is written outside the repository in any case; the
checks keep other tools (and people running ``git checkout refs/runs/...``) safe too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitruns.errors import GitrunsError, InvalidRunError
from gitruns.format import layout
from gitruns.format.layout import MAX_META_BYTES, MAX_METRIC_BYTES
from gitruns.format.runrefs import NOT_A_RUN, parse_run_ref
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store

_MODE_TREE = 0o040000
_MODE_BLOBS = (0o100644, 0o100755)
_MODE_NAMES = {0o120000: "a symlink", 0o160000: "a submodule"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
# .git, and names that some file systems treat as .git (NTFS short name, trailing dots).
_GIT_NAMES = {".git", "git~1"}
_META_FILES = {layout.RUN_FILE, layout.PARAMS_FILE, layout.SUMMARY_FILE, layout.ARTIFACTS_FILE}


@dataclass(frozen=True)
class Limits:
    max_entries: int = 100_000
    max_depth: int = 32
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 256 * 1024**2
    max_metric_bytes: int = MAX_METRIC_BYTES


DEFAULT_LIMITS = Limits()


def check_tree(store: Store, commit: str, where: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise InvalidRunError (naming ``where``) when the run's tree is unsafe or too big."""
    if not store.has_commit(commit):
        raise InvalidRunError(f"{where} does not point at a commit", "it is not a gitruns run")
    entries = 0
    total = 0
    for raw_path, mode, size in store.tree_entries(commit):
        entries += 1
        if entries > limits.max_entries:
            raise _invalid(where, f"has more than {limits.max_entries} files and folders")
        path = _check_path(raw_path, where, limits)
        if mode == _MODE_TREE:
            continue
        if mode not in _MODE_BLOBS:
            kind = _MODE_NAMES.get(mode, f"an entry of mode {mode:o}")
            raise _invalid(where, f"holds {kind} at {path}")
        cap = _cap(path, limits)
        if size > cap:
            raise _invalid(where, f"holds {path} of {size} bytes, over the {cap} byte limit")
        total += size
        if total > limits.max_total_bytes:
            raise _invalid(where, f"is over {limits.max_total_bytes} bytes in all")


def _cap(path: str, limits: Limits) -> int:
    if path in _META_FILES:
        return min(MAX_META_BYTES, limits.max_file_bytes)
    return limits.max_metric_bytes if path.endswith(".csv") else limits.max_file_bytes


def _check_path(raw_path: bytes, where: str, limits: Limits) -> str:
    try:
        path = raw_path.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(where, f"holds a file name that is not UTF-8: {raw_path!r}") from None
    segments = path.split("/")
    if len(segments) > limits.max_depth:
        raise _invalid(where, f"nests folders deeper than {limits.max_depth}: {path!r}")
    for segment in segments:
        if segment in ("", ".", "..") or _CONTROL.search(segment):
            raise _invalid(where, f"holds an unsafe path {path!r}")
        if segment.rstrip(". ").lower() in _GIT_NAMES:
            raise _invalid(where, f"holds a .git path {path!r}")
    return path


def _invalid(where: str, what: str) -> InvalidRunError:
    return InvalidRunError(f"{where} {what}", "it was skipped; ask its author to check the run")


def check_run_ref(
    store: Store, ref_name: str, run_id: str, commit: str, limits: Limits = DEFAULT_LIMITS
) -> None:
    """The cheap part: the ref is a run ref of ``run_id`` (gitruns.format.runrefs, the same check
    as listing's), and the tree is safe (see ``check_tree``)."""
    parsed = parse_run_ref(ref_name)
    if parsed is None or parsed[1] != run_id:
        raise _invalid(ref_name, NOT_A_RUN)
    check_tree(store, commit, ref_name, limits)


def load_untrusted_run(
    store: Store, ref_name: str, run_id: str, commit: str, limits: Limits = DEFAULT_LIMITS
) -> Run:
    """Check the tree, then read and validate the run's metadata (``records.load_run``).

    Errors name ``ref_name`` (e.g. ``refs/remote-runs/origin/<id>``).
    """
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
