"""Starting a run, or joining the one ``gitruns record`` is recording.

``record`` hands the run to its child through the ``GITRUNS_*`` variables named here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.errors import RunStateError
from gitruns.format import layout
from gitruns.format.ids import new_run_id
from gitruns.format.validation import check_name_key
from gitruns.recording import stack
from gitruns.recording.active import ActiveRun
from gitruns.recording.repository import ENV_REPO
from gitruns.recording.staging_files import JOIN_CLAIM_FILE, PATCH_STAGED

if TYPE_CHECKING:  # git (pygit2) is loaded only where a run is created or git is needed
    from gitruns.storage import Store

ENV_RUN_ID = "GITRUNS_RUN_ID"
ENV_RUN_DIR = "GITRUNS_RUN_DIR"
ENV_NAME_FIXED = "GITRUNS_RUN_NAME_FIXED"
__all__ = [
    "ENV_NAME_FIXED",
    "ENV_REPO",
    "ENV_RUN_DIR",
    "ENV_RUN_ID",
    "attach_to_recorded_run",
    "create_run",
]


def create_run(
    name: str | None,
    parent_ids: Iterable[str],
    store: Store,
    outer: ActiveRun | None = None,
    *,
    include_untracked: Iterable[Path] = (),
    experiment: str | None = None,
) -> ActiveRun:
    """Stage a new run owned by this process (not made the active run).

    ``parent_ids`` are run ids (resolve what a user typed with ``query.resolve`` first).
    Untracked files in ``include_untracked`` (the entry-point script) go into the code
    snapshot. ``experiment`` is the experiment it belongs to (``recording.experiment``).
    """
    from gitruns.recording.names import random_name
    from gitruns.recording.recovery import staging_area  # loads the finaliser (and git)

    store.require_writable()
    run_id = new_run_id()
    run_name = check_name_key(name, "run name") if name is not None else random_name(run_id)
    parent_ids = list(parent_ids)
    if outer is not None:
        parent_ids.append(outer.id)
    identity = store.identity()
    code = store.code_state(run_id, include_untracked)
    document = start_document(
        run_id,
        run_name,
        {"name": identity.name, "email": identity.email, "os_user": identity.os_user},
        identity.host,
        {
            "commit": code.head,
            "snapshot": code.commit if code.dirty else None,
            "branch": code.branch,
            "remote_url": code.remote_url,
            "dirty": code.dirty,
        },
        parent_ids,
        experiment,
    )
    start = {"run": document, "code_commit": code.commit, "pid": os.getpid()}
    if code.keep:
        start["code_keep"] = code.keep  # released once the run's ref exists
    run_dir, lock = staging_area(store).create(run_id, start)
    if code.patch:
        (run_dir / PATCH_STAGED).write_bytes(code.patch)
    author = f"{identity.name} <{identity.email}>"
    # The artifact store is opened on the first artifact (reading git config twice)
    active = ActiveRun(store, run_id, run_name, run_dir, lock, None, author)
    active.experiment = experiment
    return active


def start_document(
    run_id: str,
    run_name: str,
    user: dict[str, str],
    host: str,
    git: dict[str, Any],
    parent_ids: list[str],
    experiment: str | None,
) -> dict[str, Any]:
    """The run.yaml of a run just started (``start.json``'s ``run``), from its identity
    (``user``: name, email, os_user) and code state (``git``)."""
    document: dict[str, Any] = {
        "schema_version": layout.SCHEMA_VERSION,
        "id": run_id,
        "name": run_name,
        "status": "RUNNING",
        "start_time": layout.iso_time(time.time()),
        "end_time": None,
        "user": user,
        "host": host,
        "git": git,
        "tags": {},
        "notes": [],
        "parents": parent_ids,
    }
    if experiment is not None:  # only when set: runs of no experiment stay as they were
        document["experiment"] = check_name_key(experiment, "experiment name")
    return document


def join_recorded_run_once(repo: str | os.PathLike[str] | None = None) -> ActiveRun | None:
    """Join the run being recorded, if no start_run() of the recorded command has yet."""
    run_dir = os.environ.get(ENV_RUN_DIR)
    if not run_dir or not os.environ.get(ENV_RUN_ID) or not Path(run_dir).is_dir():
        return None
    try:
        claim = os.open(Path(run_dir) / JOIN_CLAIM_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except OSError:
        return None  # claimed already (or the run is ending): start a child run
    os.write(claim, str(os.getpid()).encode())
    os.close(claim)
    return attach_to_recorded_run(repo)


def recorded_run_id() -> str | None:
    """The id of the run ``gitruns record`` is recording, when this process runs under it."""
    run_id = os.environ.get(ENV_RUN_ID)
    return run_id if run_id and Path(os.environ.get(ENV_RUN_DIR, "")).is_dir() else None


def attach_to_recorded_run(
    repo: str | os.PathLike[str] | None = None, *, open_git: bool = True
) -> ActiveRun | None:
    """Join the run ``gitruns record`` is recording, when this process runs under it.

    Without ``open_git`` the repository is opened only if a call needs it (artifacts,
    notes): metrics, params and tags go to the journal alone, so ``gitruns log-metric``
    starts without loading git. The journal, its checks and its locks are the same.
    """
    run_id, run_dir = os.environ.get(ENV_RUN_ID), os.environ.get(ENV_RUN_DIR)
    if not run_id or not run_dir or not Path(run_dir).is_dir():
        return None
    if stack.is_active(run_id):
        return None
    if not open_git:
        return ActiveRun(None, run_id, "", Path(run_dir), None, None, None)
    from gitruns.recording.artifacts import artifact_store
    from gitruns.storage import Store

    store = Store(repo if repo is not None else run_dir)
    identity = store.identity()
    author = f"{identity.name} <{identity.email}>"
    return ActiveRun(store, run_id, "", Path(run_dir), None, artifact_store(store), author)


@contextmanager
def joined_recorded_run() -> Iterator[ActiveRun]:
    """The run ``gitruns record`` is recording, joined for one short write (its own journal,
    ended on the way out): what ``gitruns log-metric`` and its siblings write through."""
    run = attach_to_recorded_run(open_git=False)
    if run is None:
        raise RunStateError(
            "not inside a recorded run",
            "use this inside a command run by 'gitruns record -- ...'",
        )
    try:
        yield run
    finally:
        run.end()
