"""Name resolution: turn what a user types (a full id, a unique prefix or suffix of one, a name,
or a fetched ref) into a run: local, fetched or in progress. See ``gitruns.query.locate``."""

from __future__ import annotations

from gitruns.query.locate import load_located, locate
from gitruns.runs.model import Run
from gitruns.storage import Store


def find_run_id(store: Store, ref: str) -> str:
    """The id of the run a user's reference names: local, fetched or in progress."""
    return locate(store, ref).run_id


def find_run(store: Store, ref: str) -> Run:
    """The run a user's reference names, read and validated: a local run, a fetched one
    (``refs/remote-runs/<remote>/<id>``, checked as untrusted input) or a run in progress.
    A recorded run is served from the query cache when it holds that exact commit."""
    location = locate(store, ref)
    if location.ref is not None and location.commit is not None:
        from gitruns.query.cache import cached_run

        run = cached_run(store, location.ref, location.commit)
        if run is not None:
            return run
    return load_located(store, location)
