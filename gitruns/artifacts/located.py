"""Find a run, local or fetched, and the remote it came from (artifacts may be fetched for
a run that was only ``git fetch``-ed, never pulled)."""

from __future__ import annotations

from dataclasses import dataclass

from gitruns.errors import AmbiguousRunError, RunNotFoundError
from gitruns.format.layout import RUNS_PREFIX
from gitruns.query import cache
from gitruns.query.resolve import find_run
from gitruns.runs.model import Run
from gitruns.runs.untrusted import load_untrusted_run
from gitruns.storage import Store


@dataclass(frozen=True)
class LocatedRun:
    run: Run
    origin: str | None  # the remote a fetched run came from; None for a local run


def locate_run(store: Store, ref: str) -> LocatedRun:
    """A local run by id, prefix, suffix or name; else a fetched run matched the same way."""
    try:
        return LocatedRun(find_run(store, ref), None)
    except RunNotFoundError:
        pass
    text = ref.strip().removeprefix(RUNS_PREFIX).lower()
    rows = [row for row in cache.sync(store).runs() if not row.ref.startswith(RUNS_PREFIX)]
    exact = [r for r in rows if r.run_id == text]
    by_id = exact or [
        r for r in rows if r.run_id.startswith(text) or (len(text) >= 4 and r.run_id.endswith(text))
    ]
    if len(by_id) > 1:
        raise AmbiguousRunError(ref, sorted(r.run_id for r in by_id))
    found = by_id or sorted((r for r in rows if r.name == ref.strip()), key=lambda r: r.run_id)[-1:]
    if not found:
        raise RunNotFoundError(f"no run matches '{ref}'", "list runs with 'gitruns ls'")
    row = found[0]
    return LocatedRun(load_untrusted_run(store, row.ref, row.run_id, row.commit_id), row.origin)
