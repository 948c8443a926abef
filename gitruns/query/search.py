"""Find runs: filter, sort and limit the cached runs (``gitruns ls``, ``search_runs``)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import GitrunsError, InvalidInputError, SkippedRunsWarning
from gitruns.query import Field, compile_filter, parse, parse_sort_key, sort_runs
from gitruns.query.ast import fields_of
from gitruns.query.cache import LOCAL, CachedRun, Problem, read_lineage, row_for, sync
from gitruns.query.lineage import LazyLineage, Lineage
from gitruns.query.sql import prefilter
from gitruns.runs.model import Run
from gitruns.storage import Store

DEFAULT_ORDER = (Field("attr", "start_time"), Field("attr", "id"))


@dataclass
class Selection:
    """Runs that matched, in order, the refs skipped because they are invalid, and the fields
    the filter and sort keys name (a listing shows those columns)."""

    rows: list[CachedRun]
    problems: list[Problem] = field(default_factory=list)
    mentioned: list[Field] = field(default_factory=list)


def select_runs(
    store: Store,
    filter: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    *,
    all_copies: bool = False,
    branch: str | None = None,
    commit: str | None = None,
) -> Selection:
    """The cached runs matching ``filter``, sorted by ``order_by`` (default newest first)."""
    tree = parse(filter) if filter and filter.strip() else None
    predicate = compile_filter(tree)
    keys = [parse_sort_key(key) for key in order_by or []]
    if max_results is not None and max_results < 0:
        raise InvalidInputError(f"max_results is {max_results}", "give 0 or more")
    live = live_rows(store)  # before the refs: a run that ends meanwhile is then in both
    snapshot = sync(store, prefilter(tree), asked=[row.run_id for row in live])
    listed = snapshot.runs(all_copies=all_copies)
    in_progress = [row for row in live if row.run_id not in snapshot.recorded]
    listed += in_progress
    lineage = LazyLineage(lambda: _lineage(store, snapshot.fresh + in_progress))
    for row in listed:
        row.lineage = lineage  # each row's parents and children, looked up when asked
    rows = [row for row in listed if predicate(row)]
    if branch is not None:
        rows = _on_branch(store, rows, branch)
    if commit is not None:
        rows = _at_commit(store, rows, commit)
    rows = sort_runs(rows, keys or [(key, True) for key in DEFAULT_ORDER])
    mentioned = [key for key, _ in keys] + (fields_of(tree) if tree is not None else [])
    rows = rows[:max_results] if max_results is not None else rows
    return Selection(rows, snapshot.problems, mentioned)


def _lineage(store: Store, unsaved: list[CachedRun]) -> Lineage:
    """Every run's parents and children: the cache's, and those of ``unsaved`` runs (in
    progress, or read just now, in case the cache could not be written)."""
    lineage = read_lineage(store, [parent for row in unsaved for parent in row.parents])
    for row in unsaved:
        lineage.add_run(row.run_id, row.name, row.parents)
    return lineage


def live_rows(store: Store) -> list[CachedRun]:
    """Rows for the runs in progress (status RUNNING, metrics so far), read from staging."""
    from gitruns.runs.live import LIVE_REF_PREFIX, live_run_dirs, read_live_run

    rows = []
    for run_id, folder in sorted(live_run_dirs(store).items()):
        try:
            run = read_live_run(store, folder)
        except (OSError, ValueError, GitrunsError):
            continue  # it ended just now (its ref is listed), or its files are damaged
        rows.append(row_for(run, LIVE_REF_PREFIX + run_id, LOCAL))
    return rows


def _on_branch(store: Store, rows: list[CachedRun], branch: str) -> list[CachedRun]:
    """Runs whose code commit is the tip of ``branch`` or one of its ancestors."""
    tip = store.resolve_commit(branch)
    if tip is None:
        raise GitrunsError(f"no branch or commit '{branch}'", "list branches with 'git branch'")
    verdicts: dict[str, bool] = {}
    kept = []
    for row in rows:
        code = row.code_commit
        if code is None:
            continue
        if code not in verdicts:
            verdicts[code] = store.is_ancestor(code, tip)
        if verdicts[code]:
            kept.append(row)
    return kept


def _at_commit(store: Store, rows: list[CachedRun], commit: str) -> list[CachedRun]:
    """Runs whose code commit starts with ``commit`` or is what it names (``HEAD~2``)."""
    wanted = commit.strip().lower()
    resolved = store.resolve_commit(commit)
    return [
        row
        for row in rows
        if row.code_commit is not None
        and (
            row.code_commit == resolved or (len(wanted) >= 4 and row.code_commit.startswith(wanted))
        )
    ]


class RunList(list[Run]):
    """A list of runs; ``to_pandas()`` gives a DataFrame when pandas is installed.

    ``skipped`` lists the runs that could not be read, as (ref, why): one bad run (missing
    objects, values no reader accepts) never hides the others.
    """

    skipped: list[tuple[str, str]]

    def to_pandas(self) -> Any:
        """One row per run: id, name, status, times, ``params.*``, ``metrics.*``, ``tags.*``."""
        import importlib

        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise GitrunsError(
                "to_pandas() needs pandas, which is not installed", "pip install pandas"
            ) from exc
        return pandas.DataFrame([_flat_record(run) for run in self])


def _flat_record(run: Run) -> dict[str, Any]:
    from gitruns.format.layout import flatten

    record: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "duration": run.duration,
        "commit": run.git.get("commit"),
        "branch": run.git.get("branch"),
    }
    record.update({f"params.{k}": v for k, v in flatten(run.params).items()})
    record.update({f"metrics.{k}": s["last"] for k, s in run.metrics.items()})
    record.update({f"tags.{k}": v for k, v in run.tags.items()})
    return record


def search_runs(
    filter: str | None = None,
    order_by: list[str] | None = None,
    max_results: int | None = None,
    *,
    repo: str | os.PathLike[str] | None = None,
) -> RunList:
    """Runs matching a filter, like MLflow's ``search_runs``.

    Args:
        filter: an expression such as ``metrics.acc > 0.9 and params.lr = 0.01``
            (docs/querying.md); MLflow's filter strings work unchanged
            (``tags.mlflow.runName = 'x'``, ``run.status = 'FINISHED'``); lineage:
            ``parent = 'sweep'``, ``children > 0``; None matches every run.
        order_by: sort keys such as ``["-metrics.acc", "start_time"]`` (``-`` or a trailing
            ``DESC`` for descending); default newest first.
        max_results: at most this many runs.
        repo: a path inside the repository; default the current directory.

    Invalid runs are skipped. Fetched runs (``refs/remote-runs/...``) are included when
    no local run has the same id; runs in progress are included with status RUNNING.
    """
    from gitruns.query.locate import load_row
    from gitruns.query.served import run_from_row
    from gitruns.recording.repository import open_store
    from gitruns.runs.live import LIVE_REF_PREFIX

    store = open_store(repo)
    selection = select_runs(store, filter, order_by, max_results)
    found = RunList()
    found.skipped = list(selection.problems)
    for row in selection.rows:
        if row.record_data is not None and not row.ref.startswith(LIVE_REF_PREFIX):
            found.append(run_from_row(store, row))  # valid rows of (ref, commit) only
            continue
        try:
            found.append(load_row(store, row))
        except GitrunsError as exc:  # changed or damaged since the cache read it
            found.skipped.append((row.ref, exc.message))
    if found.skipped:
        first = "; ".join(f"{ref}: {why}" for ref, why in found.skipped[:3])
        more = f" (and {len(found.skipped) - 3} more)" if len(found.skipped) > 3 else ""
        text = f"skipped {len(found.skipped)} run(s) that cannot be read: {first}{more}"
        warnings.warn(text, SkippedRunsWarning, stacklevel=2)
    return found
