"""Finding runs named on the command line (shared by show, diff, compare, rm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitruns.records import Run
    from gitruns.storage import Store


def resolve(store: Store, ref: str) -> str:
    """A run id from an id, prefix, suffix or name; names are looked up in the query cache
    (fast with 10,000 runs) rather than by reading every run."""
    from gitruns.errors import RunNotFoundError
    from gitruns.records import resolve_run_id

    try:
        return resolve_run_id(store, ref, names={})
    except RunNotFoundError:
        pass
    try:
        from gitruns import cache

        names = {row.run_id: row.name for row in cache.sync(store).runs()}
    except (ImportError, AttributeError):
        names = None  # no usable cache: read the runs
    return resolve_run_id(store, ref, names=names)


def load(store: Store, ref: str) -> Run:
    from gitruns.records import load_run

    run_id = resolve(store, ref)
    commit = store.run_commit(run_id)
    assert commit is not None
    return load_run(store, run_id, commit)
