"""The Python API: start a run, log to the active run, read runs back.

Shaped like MLflow's fluent API so that moving over is a search-and-replace::

    import gitruns
    with gitruns.start_run(name="baseline", params={"lr": 0.01}) as run:
        run.log_metric("loss", 0.5, step=0)
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitruns import layout
from gitruns.artifacts import ArtifactStore
from gitruns.errors import GitrunsError, RunStateError
from gitruns.ids import new_run_id
from gitruns.names import random_name
from gitruns.records import Run, find_run, find_run_id
from gitruns.recovery import recover_orphans, staging_area
from gitruns.run import ActiveRun
from gitruns.storage import Store
from gitruns.validation import check_name_key, check_tag_value, check_text, to_param_value

if TYPE_CHECKING:
    from gitruns.annotate import HistoryEntry

ENV_RUN_ID = "GITRUNS_RUN_ID"
ENV_RUN_DIR = "GITRUNS_RUN_DIR"
ENV_REPO = "GITRUNS_REPO"
ENV_NAME_FIXED = "GITRUNS_RUN_NAME_FIXED"

_active: list[ActiveRun] = []
_active_lock = threading.Lock()
_hooks_installed = False


def open_store(repo: str | os.PathLike[str] | None = None, *, recover: bool = True) -> Store:
    """Open the repository at ``repo`` (default: the current directory or GITRUNS_REPO).

    Finalises runs whose process died, so every caller sees them as CRASHED.
    """
    store = Store(repo if repo is not None else os.environ.get(ENV_REPO))
    if recover:
        recover_orphans(store)
    return store


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
    with _active_lock:
        if _active and not nested:
            raise RunStateError(
                f"run {_active[-1].id} is already active",
                "end it first, or pass nested=True",
            )
    _check_start_arguments(name, params, tags, notes)
    outer = _active[-1] if _active else None
    run = attach_to_recorded_run(repo) or create_run(name, parents, open_store(repo), outer)
    if name and not run.is_owner and not os.environ.get(ENV_NAME_FIXED):
        run.set_name(name)  # the script names the run, unless `record --name` already did
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    if notes:
        run.note(notes)
    with _active_lock:
        _active.append(run)
    _install_exit_hooks()
    return run


def _check_start_arguments(
    name: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    notes: str | None,
) -> None:
    """Refuse bad arguments before anything is staged: a refused start leaves no run."""
    from gitruns.budget import RunBudget

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


def create_run(
    name: str | None,
    parents: Iterable[str],
    store: Store,
    outer: ActiveRun | None = None,
) -> ActiveRun:
    """Stage a new run owned by this process (not made the active run)."""
    store.require_writable()
    run_id = new_run_id()
    run_name = check_name_key(name, "run name") if name is not None else random_name(run_id)
    parent_ids = [find_run_id(store, p) for p in parents]
    if outer is not None:
        parent_ids.append(outer.id)
    identity = store.identity()
    code = store.code_state(run_id)
    document: dict[str, Any] = {
        "schema_version": layout.SCHEMA_VERSION,
        "id": run_id,
        "name": run_name,
        "status": "RUNNING",
        "start_time": layout.iso_time(time.time()),
        "end_time": None,
        "user": {"name": identity.name, "email": identity.email, "os_user": identity.os_user},
        "host": identity.host,
        "git": {
            "commit": code.head,
            "snapshot": code.commit if code.dirty else None,
            "branch": code.branch,
            "remote_url": code.remote_url,
            "dirty": code.dirty,
        },
        "tags": {},
        "notes": [],
        "parents": parent_ids,
    }
    start = {"run": document, "code_commit": code.commit, "pid": os.getpid()}
    if code.keep:
        start["code_keep"] = code.keep  # released once the run's ref exists
    run_dir, lock = staging_area(store).create(run_id, start)
    if code.patch:
        (run_dir / "uncommitted.patch").write_bytes(code.patch)
    author = f"{identity.name} <{identity.email}>"
    return ActiveRun(store, run_id, run_name, run_dir, lock, artifact_store(store), author)


def attach_to_recorded_run(repo: str | os.PathLike[str] | None = None) -> ActiveRun | None:
    """Join the run ``gitruns record`` is recording, when this process runs under it."""
    run_id, run_dir = os.environ.get(ENV_RUN_ID), os.environ.get(ENV_RUN_DIR)
    if not run_id or not run_dir or not Path(run_dir).is_dir():
        return None
    with _active_lock:
        if any(r.id == run_id for r in _active):
            return None
    store = Store(repo if repo is not None else run_dir)
    identity = store.identity()
    author = f"{identity.name} <{identity.email}>"
    return ActiveRun(store, run_id, "", Path(run_dir), None, artifact_store(store), author)


def artifact_store(store: Store) -> ArtifactStore:
    configured = os.environ.get("GITRUNS_ARTIFACT_STORE")
    if not configured:
        try:
            configured = store.repo.config["gitruns.artifactstore"]
        except KeyError:
            configured = None
    return ArtifactStore(Path(configured) if configured else store.gitruns_dir / "artifacts")


def active_run() -> ActiveRun | None:
    """The innermost active run of this process, or None."""
    with _active_lock:
        return _active[-1] if _active else None


def _require_active() -> ActiveRun:
    # No lock: reading the last item of a list is atomic, and this is on the hot path of
    # every module-level log_metric call.
    try:
        return _active[-1]
    except IndexError:
        raise RunStateError("no active run", "call gitruns.start_run() first") from None


def forget_run(run: ActiveRun) -> None:
    with _active_lock:
        if run in _active:
            _active.remove(run)


def end_run(status: str = "FINISHED") -> None:
    """End the active run (FINISHED, FAILED or KILLED)."""
    run = _require_active()
    try:
        run.end(status)
    finally:
        forget_run(run)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | None = None
) -> None:
    _require_active().log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _require_active().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_active().log_params(params)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require_active().set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _require_active().log_artifact(Path(local_path), artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _require_active().log_artifacts(Path(local_dir), artifact_path)


def note(text: str) -> None:
    _require_active().note(text)


def get_run(ref: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """A recorded run by full id, unique prefix or suffix of an id, or name."""
    return find_run(open_store(repo), ref)


def list_runs(*, repo: str | os.PathLike[str] | None = None) -> list[Run]:
    """Every valid run, newest first: local runs, and fetched runs that no local run of
    the same id shadows. ``search_runs()`` with no filter: a run that cannot be read is
    left out, named in the list's ``skipped`` and in a ``SkippedRunsWarning``."""
    from gitruns.search import search_runs

    return search_runs(repo=repo)


# -- annotations of recorded runs (each a commit on top of the run's ref; see annotate.py) --
def set_run_tags(
    ref: str, tags: Mapping[str, Any], *, repo: str | os.PathLike[str] | None = None
) -> Run:
    """Set tags on a recorded run (an audited commit on its ref); return the run."""
    from gitruns import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.set_tags(store, run_id, tags))


def delete_run_tags(
    ref: str, keys: Iterable[str], *, repo: str | os.PathLike[str] | None = None
) -> Run:
    """Delete tags of a recorded run; return the run."""
    from gitruns import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.delete_tags(store, run_id, keys))


def add_run_note(ref: str, text: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """Append a note (text, author, time) to a recorded run; return the run."""
    from gitruns import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.add_note(store, run_id, text))


def rename_run(ref: str, name: str, *, repo: str | os.PathLike[str] | None = None) -> Run:
    """Give a recorded run a new name; return the run."""
    from gitruns import annotate

    return _annotated(ref, repo, lambda store, run_id: annotate.rename(store, run_id, name))


def run_history(ref: str, *, repo: str | os.PathLike[str] | None = None) -> list[HistoryEntry]:
    """The run's audit trail, oldest first: ``annotate.HistoryEntry`` objects."""
    from gitruns import annotate

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


def _install_exit_hooks() -> None:
    """End runs the program forgot to end: FINISHED at exit, FAILED on an uncaught error."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        status = "KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED"
        _end_all(status, error)
        previous_hook(kind, error, tb)

    sys.excepthook = excepthook
    atexit.register(_end_all_at_exit)


def _end_all_at_exit() -> None:
    _end_all("FINISHED", None)


def _end_all(status: str, error: BaseException | None) -> None:
    """End every active run on the way out. A run that cannot be written now (a full disk)
    stays staged: the next gitruns command finalises it with everything on disk."""
    for run in reversed(list(_active)):
        try:
            run.end(status, error=error)
        except (GitrunsError, OSError):
            pass
        finally:
            forget_run(run)


__all__ = [
    "active_run",
    "add_run_note",
    "delete_run_tags",
    "end_run",
    "get_run",
    "list_runs",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "note",
    "open_store",
    "rename_run",
    "run_history",
    "set_run_tags",
    "set_tag",
    "set_tags",
    "start_run",
]
