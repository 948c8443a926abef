"""Starting a run in a clean worktree without libgit2: ``gitruns record``'s way in.

``recording.git_probe`` read what the start needs with the git CLI; the run is staged
exactly as ``start.create_run`` stages it (the same ``start.json``, lock and folder), so
recovery, joining and finalising cannot tell the two apart. The run is finalised without
pygit2 too (``plain_repo``: ``runwrite.PlainRepo``) unless something needs the full
repository: crashed runs of other processes to recover (``others_to_recover``), an odd
ref or object (``runwrite.NeedsStore``), or the run opened it itself (artifacts, Hydra
jobs); then the repository (pygit2) is given to the run (``ActiveRun.use_store``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from gitruns.format.ids import new_run_id
from gitruns.format.validation import check_name_key
from gitruns.locks import LivenessLock
from gitruns.recording.active import ActiveRun
from gitruns.recording.git_probe import ProbedRepo
from gitruns.recording.names import random_name
from gitruns.recording.staging import StagingArea
from gitruns.recording.staging_files import OWNER_LOCK, STAGING_DIR
from gitruns.recording.start import start_document

if TYPE_CHECKING:  # loaded after the command started (packs, hashlib, zlib, mmap)
    from gitruns.runwrite import PlainRepo


def create_run_from_probe(
    probed: ProbedRepo, name: str | None, *, experiment: str | None = None
) -> ActiveRun:
    """Stage a new run owned by this process, on a clean tree's HEAD (no parents)."""
    run_id = new_run_id()
    run_name = check_name_key(name, "run name") if name is not None else random_name(run_id)
    user = {"name": probed.user_name, "email": probed.user_email, "os_user": probed.os_user}
    code = {
        "commit": probed.head,
        "snapshot": None,
        "branch": probed.branch,
        "remote_url": probed.remote_url,
        "dirty": False,
    }
    document = start_document(run_id, run_name, user, probed.host, code, [], experiment)
    start = {"run": document, "code_commit": probed.head, "pid": os.getpid()}
    staging = StagingArea(probed.gitruns_dir / STAGING_DIR)
    run_dir, lock = staging.create(run_id, start)
    active = ActiveRun(None, run_id, run_name, run_dir, lock, None, probed.author)
    active.experiment = experiment
    return active


def plain_repo(probed: ProbedRepo) -> PlainRepo | None:
    """The repository as ``runwrite.PlainRepo`` writes it, or None where a run's ref is
    more than its loose file (``core.logAllRefUpdates=always`` wants a reflog of it,
    ``core.sharedRepository`` group permissions: libgit2 writes those) or objects may be
    missing on purpose (a partial clone's promisor remote): as ``Store._plain_ref_files``
    and ``Store.promisor_remote`` decide."""
    config = probed.config
    if config.get("core.logallrefupdates", "").lower() == "always":
        return None
    if config.get("core.sharedrepository"):
        return None
    if any(
        key.startswith("remote.") and key.endswith(".promisor") and value.lower() == "true"
        for key, value in config.items()
    ):
        return None
    from gitruns.runwrite import PlainRepo

    settings = {key: value for key, value in config.items() if key.startswith("gitruns.")}
    return PlainRepo(
        probed.git_dir, probed.common_dir, probed.user_name, probed.user_email, settings
    )


def others_to_recover(gitruns_dir: Path, run_id: str) -> bool:
    """Whether ``recovery.recover_orphans`` would finalise a run in the staging area
    besides run ``run_id`` (this process's): a run folder whose owner is gone (its lock
    can be taken). Live runs of other processes (concurrent recorders) are not work, their
    owners finalise them; nor is what recovery only clears away (``.new-`` and ``.done-``
    folders of starts and removals cut short, a folder without its lock), which the next
    opening of the repository through ``Store`` does."""
    try:
        entries = list(os.scandir(gitruns_dir / STAGING_DIR))
    except FileNotFoundError:
        return False
    for entry in entries:
        if entry.name == run_id or entry.name.startswith("."):
            continue
        lock = LivenessLock.acquire(Path(entry.path) / OWNER_LOCK, create=False)
        if lock is not None:
            lock.release()
            return True
    return False
