"""Which run a user's reference names, among every run the repository can see.

A reference (``RUN`` in the CLI, ``ref`` in the API) is, in order: a full id; a unique
prefix of an id, or a unique suffix of at least 4 hex digits; a run name, meaning the
newest run of that name. It may name:

- a local run (``refs/runs/<id>``);
- a run in progress (its staging folder; it has no ref until it ends);
- a fetched run (``refs/remote-runs/<remote>/<id>``), read with no ``pull``.

Local shadows fetched: a run with a local ref is that copy, whatever remotes hold; among
remotes, the first by name. A name that runs of more than one origin carry (your
``baseline`` and a teammate's) is ambiguous: the error lists each with its origin. A
full ref name (``refs/remote-runs/team/<id>``) picks one copy exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitruns.errors import AmbiguousRunError, RunNotFoundError, RunStateError
from gitruns.format.ids import is_run_id
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store

if TYPE_CHECKING:
    from gitruns.query.cache import CachedRun

LOCAL = "local"
_ZERO = "0" * 40


@dataclass(frozen=True)
class Location:
    """Where one run is: a ref and its commit, or the staging folder of a live run."""

    run_id: str
    origin: str  # "local" (runs in progress too), or the remote a fetched copy came from
    ref: str | None = None
    commit: str | None = None
    run_dir: Path | None = None

    @property
    def live(self) -> bool:
        return self.run_dir is not None

    def label(self) -> str:
        """``<id> (origin)`` for error messages that list candidates."""
        where = "in progress" if self.live else self.origin
        return f"{self.run_id} ({where})"


def all_locations(store: Store) -> dict[str, Location]:
    """One location per run id: the local copy, else the run in progress, else the copy
    of the first remote (by name) that has it."""
    from gitruns.runs.live import live_run_dirs

    local, fetched, _not_runs = store.all_run_refs()
    found = {i: Location(i, LOCAL, RUNS_PREFIX + i, c) for i, c in local.items()}
    for run_id, folder in live_run_dirs(store).items():
        found.setdefault(run_id, Location(run_id, LOCAL, run_dir=folder))
    for remote in sorted(fetched):
        for run_id, commit in fetched[remote].items():
            if is_run_id(run_id) and run_id not in found:
                ref = f"{REMOTE_RUNS_PREFIX}{remote}/{run_id}"
                found[run_id] = Location(run_id, remote, ref, commit)
    return found


def locate(store: Store, ref: str) -> Location:
    """The run ``ref`` names (see the module docstring); RunNotFoundError or
    AmbiguousRunError (listing the candidates with their origin) otherwise."""
    text = ref.strip()
    if not text:
        raise RunNotFoundError("an empty run reference", "give a run id or name")
    if text.startswith(REMOTE_RUNS_PREFIX):
        return _fetched_copy(store, text)
    text = text.removeprefix(RUNS_PREFIX)
    runs = all_locations(store)
    if text in runs:
        return runs[text]
    lowered = text.lower()
    by_id = sorted(
        i for i in runs if i.startswith(lowered) or (len(lowered) >= 4 and i.endswith(lowered))
    )
    if len(by_id) > 1:
        raise AmbiguousRunError(text, by_id, [runs[i].label() for i in by_id])
    if by_id:
        return runs[by_id[0]]
    named = sorted(i for i, name in run_names(store, runs).items() if name == text)
    if not named:
        raise RunNotFoundError(f"no run matches '{ref}'", "list runs with 'gitruns ls'")
    if len({runs[i].origin for i in named}) > 1:
        raise AmbiguousRunError(
            text,
            named,
            [runs[i].label() for i in named],
            "name the run by its id: runs of that name come from more than one origin",
        )
    return runs[named[-1]]  # ids sort by time: the newest run of that name


def run_names(store: Store, runs: dict[str, Location]) -> dict[str, str]:
    """``{run id: name}`` of the copies ``all_locations`` chose: refs through the query
    cache (fast with 10,000 runs), runs in progress from their staging folders."""
    from gitruns.query import cache
    from gitruns.runs.live import live_name

    names: dict[str, str] = {}
    for row in cache.sync(store).runs(all_copies=True):
        chosen = runs.get(row.run_id)
        if chosen is not None and chosen.ref == row.ref and row.name is not None:
            names[row.run_id] = row.name
    for run_id, location in runs.items():
        if location.run_dir is not None:
            name = live_name(location.run_dir)
            if name is not None:
                names[run_id] = name
    return names


def _fetched_copy(store: Store, ref: str) -> Location:
    remote, _, run_id = ref[len(REMOTE_RUNS_PREFIX) :].rpartition("/")
    commit = store.ref_commit(ref)
    if not remote or commit is None or not is_run_id(run_id):
        raise RunNotFoundError(f"no fetched run {ref}", "list runs with 'gitruns ls --all'")
    return Location(run_id, remote, ref, commit)


def load_located(store: Store, location: Location) -> Run:
    """Read the run: from its staging folder, its local ref, or (checked as untrusted
    input) its fetched ref."""
    if location.run_dir is not None:
        from gitruns.runs.live import read_live_run

        try:
            return read_live_run(store, location.run_dir)
        except FileNotFoundError:  # it ended while being read: it is on its ref now
            ended = store.run_commit(location.run_id)
            if ended is None:
                raise RunNotFoundError(
                    f"run {location.run_id} ended just now and was not written",
                    "list runs with 'gitruns ls'",
                ) from None
            return load_run(store, location.run_id, ended)
    assert location.ref is not None and location.commit is not None
    if location.origin == LOCAL:
        return load_run(store, location.run_id, location.commit)
    from gitruns.runs.untrusted import load_untrusted_run

    run = load_untrusted_run(store, location.ref, location.run_id, location.commit)
    run.origin = location.origin
    return run


def load_row(store: Store, row: CachedRun) -> Run:
    """The full run behind a row of ``gitruns ls`` (cached, fetched or in progress)."""
    from gitruns.runs.live import LIVE_REF_PREFIX, staging_root

    if row.ref.startswith(LIVE_REF_PREFIX):
        folder = staging_root(store) / row.run_id
        return load_located(store, Location(row.run_id, LOCAL, run_dir=folder))
    return load_located(store, Location(row.run_id, row.origin, row.ref, row.commit_id))


def adopt(store: Store, location: Location) -> str:
    """Make a fetched run a local run (``refs/runs/<id>`` at the fetched commit), so that
    it can be annotated and the next plain ``git push`` publishes the annotation; return
    its id. A local run is returned as it is; a run in progress cannot be annotated."""
    if location.run_dir is not None:
        raise RunStateError(
            f"run {location.run_id} is still in progress",
            "annotate it once it ends, or from the script (gitruns.set_tag, run.note)",
        )
    if location.origin == LOCAL:
        return location.run_id
    assert location.ref is not None and location.commit is not None
    load_located(store, location)  # untrusted input: checked before it becomes ours
    store.update_refs([(RUNS_PREFIX + location.run_id, location.commit, _ZERO)])
    # False above means a local copy appeared meanwhile (a pull): annotate that one.
    return location.run_id
