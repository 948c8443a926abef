"""The Python API: start a run, log to the active run, read runs back.

Shaped like MLflow's fluent API so that moving over is a search-and-replace::

    import gitruns
    with gitruns.start_run(name="baseline", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.format.validation import check_name_key, check_tag_value, check_text, to_param_value
from gitruns.query.resolve import find_run, find_run_id
from gitruns.recording import stack
from gitruns.recording.active import ActiveRun
from gitruns.recording.repository import open_store
from gitruns.recording.stack import active_run
from gitruns.recording.start import ENV_NAME_FIXED, attach_to_recorded_run, create_run
from gitruns.runs.model import Run
from gitruns.storage import Store

if TYPE_CHECKING:
    from gitruns.runs.annotate import HistoryEntry


def start_run(
    name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    notes: str | None = None,
    parents: Iterable[str] = (),
    repo: str | os.PathLike[str] | None = None,
    nested: bool = False,
) -> ActiveRun:
    """Start a run (or, inside ``gitruns record``, join the run being recorded).

    Args:
        name: a human name; a readable one is generated when omitted.
        params: parameters to log at once.
        tags: tags to set at once.
        notes: a first note.
        parents: runs this one builds on (fine-tunes, resumes); ids, prefixes or names.
        repo: a path inside the git repository; default the current directory.
        nested: allow starting while another run is active (it becomes a parent).
    """
    stack.check_can_start(nested)
    _check_start_arguments(name, params, tags, notes)
    outer = active_run()
    run = attach_to_recorded_run(repo)
    if run is None:
        store = open_store(repo)
        run = create_run(name, [find_run_id(store, p) for p in parents], store, outer)
    if name and not run.is_owner and not os.environ.get(ENV_NAME_FIXED):
        run.set_name(name)  # the script names the run, unless `record --name` already did
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    if notes:
        run.note(notes)
    stack.push(run)
    return run


def _check_start_arguments(
    name: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    notes: str | None,
) -> None:
    """Refuse bad arguments before anything is staged: a refused start leaves no run."""
    if name is not None:
        check_name_key(name, "run name")
    for key, value in (params or {}).items():
        check_name_key(key, "param key")
        to_param_value(value, key)
    for key, value in (tags or {}).items():
        check_name_key(key, "tag key")
        check_tag_value(value, key)
    if notes:
        check_text(notes, "a note")


def end_run(status: str = "FINISHED") -> None:
    """End the active run (FINISHED, FAILED or KILLED)."""
    run = stack.require_active()
    try:
        run.end(status)
    finally:
        stack.forget_run(run)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | None = None
) -> None:
    stack.require_active().log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    stack.require_active().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    stack.require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    stack.require_active().log_params(params)


def set_tag(key: str, value: Any) -> None:
    stack.require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    stack.require_active().set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    stack.require_active().log_artifact(Path(local_path), artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    stack.require_active().log_artifacts(Path(local_dir), artifact_path)


def note(text: str) -> None:
    stack.require_active().note(text)


def get_run(ref: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """A recorded run by full id, unique prefix or suffix of an id, or name."""
    return find_run(open_store(repo), ref)


def get_artifact(
    run: str | Run,
    path: str,
    *,
    remote: str | None = None,
    repo: str | os.PathLike[str] | None = None,
) -> Path:
    """The local path of one artifact of a run, downloaded when it is not here.

    The content is fetched (from the run's git remote through Git LFS, or the object store
    configured for it) into the local store and checked against its sha256, and its path
    there returned: a read-only file named by its sha256. Copy it to change it. Content
    already here is returned at once (``gitruns artifacts verify`` re-checks it).

    Args:
        run: a run, or a reference to one (id, prefix or suffix of an id, name); runs
            fetched from a remote and not pulled are found too.
        path: the artifact's path in the run, e.g. ``"models/model.pt"``.
        remote: download from this git remote or artifacts remote instead of the run's own.
        repo: a path inside the git repository; default the current directory.

    Raises:
        ArtifactError: the run has no such artifact, or it cannot be had intact.
    """
    from gitruns.artifacts.service import get_artifact as fetch

    return fetch(open_store(repo), run, path, remote=remote)


def list_runs(*, repo: str | os.PathLike[str] | None = None) -> list[Run]:
    """Every valid run, newest first: local runs, and fetched runs that no local run of
    the same id shadows (invalid runs are skipped). ``search_runs()`` with no filter."""
    from gitruns.query.search import search_runs

    return list(search_runs(repo=repo))


# -- annotations of recorded runs (each a commit on top of the run's ref; see annotate.py) --
def set_run_tags(
    ref: str, tags: Mapping[str, Any], *, repo: str | os.PathLike[str] | None = None
) -> Run:
    """Set tags on a recorded run (an audited commit on its ref); return the run."""
    from gitruns.runs import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.set_tags(store, run_id, tags))


def delete_run_tags(
    ref: str, keys: Iterable[str], *, repo: str | os.PathLike[str] | None = None
) -> Run:
    """Delete tags of a recorded run; return the run."""
    from gitruns.runs import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.delete_tags(store, run_id, keys))


def add_run_note(ref: str, text: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """Append a note (text, author, time) to a recorded run; return the run."""
    from gitruns.runs import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.add_note(store, run_id, text))


def rename_run(ref: str, name: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """Give a recorded run a new name; return the run."""
    from gitruns.runs import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.rename(store, run_id, name))


def run_history(ref: str, *, repo: str | os.PathLike[str] | None = None) -> list[HistoryEntry]:
    """The run's audit trail, oldest first: ``runs.annotate.HistoryEntry`` objects."""
    from gitruns.runs import annotate

    store = open_store(repo)
    run_id = find_run_id(store, ref)
    tip = store.run_commit(run_id)
    assert tip is not None
    return list(annotate.history(store, run_id, tip))


def _annotated(
    ref: str, repo: str | os.PathLike[str] | None, change: Callable[[Store, str], object]
) -> Run:
    store = open_store(repo)
    run_id = find_run_id(store, ref)
    change(store, run_id)
    return find_run(store, run_id)
