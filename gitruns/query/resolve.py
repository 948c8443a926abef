"""Name resolution: turn what a user types (an id, a prefix or suffix of one, a name) into a run."""

from __future__ import annotations

from gitruns.errors import AmbiguousRunError, InvalidRunError, RunNotFoundError
from gitruns.query import cache
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store


def resolve_run_id(store: Store, ref: str, names: dict[str, str] | None = None) -> str:
    """Turn a run reference into a run id.

    Accepted, in this order: a full id; a unique prefix of an id, or a unique suffix of at
    least 4 hex digits (``ls`` shows the last 8); a run name, meaning the newest run with
    that name. ``names`` maps run id -> name when the caller already has it (a cache).
    """
    refs = store.run_refs()
    text = ref.strip().removeprefix("refs/runs/")
    if not text:
        raise RunNotFoundError("an empty run reference", "give a run id or name")
    if text in refs:
        return text
    lowered = text.lower()
    by_id = sorted(
        i for i in refs if i.startswith(lowered) or (len(lowered) >= 4 and i.endswith(lowered))
    )
    if len(by_id) > 1:
        raise AmbiguousRunError(text, by_id)
    if by_id:
        return by_id[0]
    if names is None:
        names = {}
        for run_id, commit in refs.items():
            try:
                names[run_id] = load_run(store, run_id, commit).name
            except InvalidRunError:
                continue
    by_name = sorted(i for i, n in names.items() if n == text and i in refs)
    if by_name:
        return by_name[-1]  # ids sort by time: the newest run of that name
    raise RunNotFoundError(f"no run matches '{ref}'", "list runs with 'gitruns ls'")


def find_run_id(store: Store, ref: str) -> str:
    """``resolve_run_id`` with names looked up in the query cache, so naming a run by name
    stays fast with 10,000 runs instead of reading every run."""
    try:
        return resolve_run_id(store, ref, names={})
    except RunNotFoundError:
        pass
    names = {row.run_id: row.name for row in cache.sync(store).runs()}
    return resolve_run_id(store, ref, names=names)


def find_run(store: Store, ref: str) -> Run:
    """The run a user's reference names (see ``find_run_id``), read and validated."""
    run_id = find_run_id(store, ref)
    commit = store.run_commit(run_id)
    if commit is None:
        raise RunNotFoundError(f"run {run_id} was deleted just now", "list runs with 'gitruns ls'")
    return load_run(store, run_id, commit)
