"""Deleting runs into a trash they can be restored from, and collecting garbage.

``delete_run`` adds a marker commit (trailer ``Gitruns-Annotation: deleted``; its commit
time is the deletion time) on top of the run and, in one ref transaction, moves the run
from ``refs/runs/<id>`` to ``refs/gitruns-trash/<id>``: the run's objects stay reachable,
and nothing but gitruns looks there. ``restore_run`` moves the ref back to the commit the
run had before it was deleted. ``collect_garbage`` purges trash older than the grace
period, packs refs, runs ``git gc``, and removes artifacts and staging leftovers that no
run references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitruns.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    GitrunsError,
    InvalidInputError,
    RunNotFoundError,
)
from gitruns.format.layout import RUNS_PREFIX, TRASH_PREFIX
from gitruns.runs import annotate
from gitruns.runs.model import read_run_yaml
from gitruns.storage import LOST, Lost, Store, compare_and_swap

DEFAULT_TRASH_DAYS = 30.0
CONFIG_TRASH_DAYS = "gitruns.trashDays"
LEFTOVER_AGE_S = 3600.0  # staging or artifact files younger than this may still be in use
_SHA256 = re.compile(rb"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrashedRun:
    id: str
    name: str
    marker: str  # the deletion commit, where refs/gitruns-trash/<id> points
    original: str  # the run's commit before deletion, where restore puts it back
    deleted_at: float
    deleted_by: str


def delete_run(store: Store, run_id: str) -> TrashedRun:
    """Move a run to the trash (restorable until ``gitruns gc`` purges it)."""
    store.require_writable()
    message = annotate.annotation_message("deleted", "moved to the trash")

    def attempt() -> TrashedRun | Lost:
        old = store.run_commit(run_id)
        if old is None:
            raise RunNotFoundError(f"run {run_id} no longer exists", "run 'gitruns ls'")
        marker = store.commit_same_tree(old, message)
        # A copy deleted earlier (the run came back by a fetch since) is replaced.
        earlier = store.ref_commit(TRASH_PREFIX + run_id)
        if store.move_ref(RUNS_PREFIX + run_id, old, TRASH_PREFIX + run_id, marker, earlier):
            return _trashed(store, run_id, marker)
        return LOST

    return compare_and_swap(attempt, f"run {run_id} kept changing while being deleted")


def trashed_runs(store: Store) -> list[TrashedRun]:
    """Every run in the trash, most recently deleted first."""
    found = [
        _trashed(store, name[len(TRASH_PREFIX) :], commit)
        for name, commit in store.refs_under(TRASH_PREFIX).items()
    ]
    return sorted(found, key=lambda t: t.deleted_at, reverse=True)


def _trashed(store: Store, run_id: str, marker: str) -> TrashedRun:
    parents, author, _message, when = store.commit_info(marker)
    original = parents[0] if parents else marker  # a trash ref gitruns did not write
    return TrashedRun(run_id, _name(store, marker), marker, original, when, author)


def _name(store: Store, commit: str) -> str:
    try:
        return str((read_run_yaml(store, commit) or {}).get("name", "?"))
    except GitrunsError:
        return "?"


def resolve_trashed(store: Store, ref: str) -> TrashedRun:
    """A trashed run by full id, unique id prefix or suffix, or name (newest deletion)."""
    text = ref.strip().lower()
    trash = trashed_runs(store)
    by_id = [t for t in trash if t.id.startswith(text) or (len(text) >= 4 and t.id.endswith(text))]
    exact = [t for t in trash if t.id == text]
    if exact:
        return exact[0]
    if len(by_id) > 1:
        raise AmbiguousRunError(ref, sorted(t.id for t in by_id))
    if by_id:
        return by_id[0]
    by_name = [t for t in trash if t.name == ref.strip()]
    if by_name:
        return by_name[0]
    raise RunNotFoundError(
        f"no deleted run matches '{ref}'", "list them with 'gitruns restore --list'"
    )


def restore_run(store: Store, ref: str) -> TrashedRun:
    """Put a deleted run back on ``refs/runs/<id>`` exactly as it was."""
    store.require_writable()
    trashed = resolve_trashed(store, ref)
    if store.run_commit(trashed.id) is not None:
        raise GitrunsError(
            f"run {trashed.id} exists again (fetched or recreated since it was deleted)",
            "keep that one, or delete it before restoring",
        )
    if not store.move_ref(
        TRASH_PREFIX + trashed.id, trashed.marker, RUNS_PREFIX + trashed.id, trashed.original
    ):
        raise ConcurrentUpdateError(f"run {trashed.id} changed while restoring", "try again")
    return trashed


def trash_days(store: Store, override: float | None = None) -> float:
    """The grace period: ``override``, else git config gitruns.trashDays, else 30 days."""
    if override is not None:
        return override
    configured = store.config_value(CONFIG_TRASH_DAYS)
    if configured is None:
        return DEFAULT_TRASH_DAYS
    try:
        return parse_age_days(configured)
    except InvalidInputError as exc:
        raise InvalidInputError(f"git config {CONFIG_TRASH_DAYS}: {exc.message}", exc.hint) from exc


def parse_age_days(text: str) -> float:
    """``30``/``30d``, ``12h``, ``90m``, ``2w``, ``0`` -> days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise InvalidInputError(f"'{text}' is not an age", "write e.g. 30d, 12h, 2w or 0")
    units = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "": 1.0}
    return float(match.group(1)) * units[match.group(2)]
