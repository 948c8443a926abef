"""Opening the repository: the one entry point every command and API call goes through."""

from __future__ import annotations

import os

from gitruns.recording.recovery import recover_orphans
from gitruns.storage import Store

ENV_REPO = "GITRUNS_REPO"


def open_store(repo: str | os.PathLike[str] | None = None, *, recover: bool = True) -> Store:
    """Open the repository at ``repo`` (default: the current directory or GITRUNS_REPO).

    Finalises runs whose process died, so every caller sees them as CRASHED.
    """
    store = Store(repo if repo is not None else os.environ.get(ENV_REPO))
    if recover:
        recover_orphans(store)
    return store
