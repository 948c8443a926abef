"""Starting a run in a clean worktree without libgit2: ``gitruns record``'s way in.

``recording.git_probe`` read what the start needs with the git CLI; the run is staged
exactly as ``start.create_run`` stages it (the same ``start.json``, lock and folder), so
recovery, joining and finalising cannot tell the two apart. The repository (pygit2) is
given to the run later (``ActiveRun.use_store``), opened while the command runs.
"""

from __future__ import annotations

import os

from gitruns.format.ids import new_run_id
from gitruns.format.validation import check_name_key
from gitruns.recording.active import ActiveRun
from gitruns.recording.git_probe import ProbedRepo
from gitruns.recording.names import random_name
from gitruns.recording.staging import StagingArea
from gitruns.recording.staging_files import STAGING_DIR
from gitruns.recording.start import start_document


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
