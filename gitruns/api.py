"""The Python API: start a run, log to the active run, read runs back.

Shaped like MLflow's fluent API so that moving over is a search-and-replace::

    import gitruns
    with gitruns.start_run(name="baseline", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.errors import RunStateError
from gitruns.format.validation import check_name_key, check_tag_value, check_text, to_param_value
from gitruns.query.resolve import find_run, find_run_id
from gitruns.recording import experiment as experiments
from gitruns.recording import stack
from gitruns.recording.active import ActiveRun
from gitruns.recording.repository import open_store
from gitruns.recording.stack import active_run
from gitruns.recording.start import (
    ENV_NAME_FIXED,
    create_run,
    join_recorded_run_once,
    recorded_run_id,
)
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
    log_system_metrics: bool | None = None,
    experiment: str | None = None,
) -> ActiveRun:
    """Start a run (or, inside ``gitruns record``, join the run being recorded).

    Under ``gitruns record``, the first ``start_run()`` of the recorded command joins the
    recorded run; later ones (after it ended, or nested) start child runs of it, as the
    same script would start separate runs without ``record``.

    Args:
        name: a human name; a readable one is generated when omitted.
        params: parameters to log at once.
        tags: tags to set at once.
        notes: a first note.
        parents: runs this one builds on (fine-tunes, resumes); ids, prefixes or names.
        repo: a path inside the git repository; default the current directory.
        nested: allow starting while another run is active (it becomes a parent).
        log_system_metrics: sample CPU, memory, I/O and GPUs of this process and its
            children, and record resource totals (default: GITRUNS_SYSTEM_METRICS=1).
            Under ``gitruns record`` the recorder does this already.
        experiment: the experiment the run belongs to; default ``set_experiment()``'s,
            else ``GITRUNS_EXPERIMENT`` (``gitruns record --experiment``), else a nested
            run's parent's, else none. A joined recorded run takes it when given here or
            by ``set_experiment()``.
    """
    stack.check_can_start(nested)
    _check_start_arguments(name, params, tags, notes)
    explicit = experiments.chosen_explicitly(experiment)
    outer = active_run()
    run = join_recorded_run_once(repo) if outer is None else None
    if run is not None:
        run.experiment = explicit or experiments.default_experiment()
        if explicit is not None:
            run.set_fields(experiment=explicit)
    else:
        from gitruns.recording import provenance
        from gitruns.recording.kept_store import open_for_run

        store = open_for_run(repo)  # the process's last run's, when still valid
        parent_ids = [find_run_id(store, p) for p in parents]
        untracked = provenance.entry_scripts()
        chosen = explicit or experiments.default_experiment()
        if chosen is None and outer is not None:
            chosen = outer.experiment  # a nested run stays in its parent's experiment
        run = create_run(
            name, parent_ids, store, outer, include_untracked=untracked, experiment=chosen
        )
        provenance.capture(run)
        recorded = recorded_run_id() if outer is None else None
        if recorded:
            run.add_parent(recorded)  # a child run of the run being recorded
    if name and not run.is_owner and not os.environ.get(ENV_NAME_FIXED):
        run.set_name(name)  # the script names the run, unless `record --name` already did
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    if notes:
        run.note(notes)
    if run.is_owner:
        from gitruns.recording.monitor import start_monitor, wanted

        if wanted(log_system_metrics):
            start_monitor(run)
    stack.push(run)
    return run


def _check_start_arguments(
    name: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    notes: str | None,
) -> None:
    """Refuse bad arguments before anything is staged: a refused start leaves no run."""
    from gitruns.format.budget import RunBudget

    budget = RunBudget()  # the limits readers enforce, before anything is staged
    if name is not None:
        check_name_key(name, "run name")
    for key, value in (params or {}).items():
        check_name_key(key, "param key")
        budget.param(key, to_param_value(value, key))
    for key, value in (tags or {}).items():
        check_name_key(key, "tag key")
        budget.text(f"tag '{key}'", key, check_tag_value(value, key))
    if notes:
        budget.text("a note", "text", check_text(notes, "a note"))


def set_experiment(name: str | None) -> None:
    """Make the runs this process starts from now on belong to experiment ``name``
    (None: back to ``GITRUNS_EXPERIMENT``, else none). Runs already started keep theirs."""
    experiments.set_experiment(name)


def get_experiment() -> str | None:
    """The experiment new runs of this process join: ``set_experiment()``'s, else
    ``GITRUNS_EXPERIMENT``, else None."""
    return experiments.default_experiment()


def end_run(status: str = "FINISHED") -> None:
    """End the active run (FINISHED, FAILED or KILLED)."""
    run = stack.require_active()
    try:
        run.end(status)
    finally:
        stack.forget_run(run)


_autostart_lock = threading.Lock()


def _active_or_start() -> ActiveRun:
    """The active run; with none, start one (MLflow's behaviour), which under ``gitruns
    record`` joins the recorded run. It ends when the program exits."""
    run = active_run()
    if run is not None:
        return run
    with _autostart_lock:  # two threads logging at once start one run, not two
        return active_run() or start_run()


# Module-level logging acts on the active run, starting one when there is none.
def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | None = None
) -> None:
    _active_or_start().log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _active_or_start().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _active_or_start().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _active_or_start().log_params(params)


def set_tag(key: str, value: Any) -> None:
    _active_or_start().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _active_or_start().set_tags(tags)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, *, step: int | None = None
) -> None:
    _active_or_start().log_artifact(Path(local_path), artifact_path, step=step)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, *, step: int | None = None
) -> None:
    _active_or_start().log_artifacts(Path(local_dir), artifact_path, step=step)


def note(text: str) -> None:
    _active_or_start().note(text)


def get_run(ref: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """A run by full id, unique prefix or suffix of an id, or name: a local run, a run
    fetched from a remote (no pull needed), or a run in progress (``status`` RUNNING,
    metrics so far)."""
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
    the same id shadows. ``search_runs()`` with no filter: a run that cannot be read is
    left out, named in the list's ``skipped`` and in a ``SkippedRunsWarning``."""
    from gitruns.query.search import search_runs

    return search_runs(repo=repo)


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
    from gitruns.query.locate import locate
    from gitruns.runs import annotate

    store = open_store(repo)
    location = locate(store, ref)
    if location.commit is None:
        raise RunStateError(
            f"run {location.run_id} is still in progress: it has no history yet",
            "look again once it ends",
        )
    return list(annotate.history(store, location.run_id, location.commit))


def _annotated(
    ref: str, repo: str | os.PathLike[str] | None, change: Callable[[Store, str], object]
) -> Run:
    """Annotate the run ``ref`` names; a fetched run becomes a local run first, so that
    the next plain ``git push`` publishes the annotation."""
    from gitruns.query.locate import adopt, locate

    store = open_store(repo)
    run_id = adopt(store, locate(store, ref))
    change(store, run_id)
    return find_run(store, run_id)
