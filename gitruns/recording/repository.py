"""Opening the repository: the one entry point every command and API call goes through."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitruns.recording.staging_files import STAGING_DIR

if TYPE_CHECKING:  # loaded by open_store: importing ENV_REPO must not load git
    from gitruns.storage import Store

ENV_REPO = "GITRUNS_REPO"


def open_store(repo: str | os.PathLike[str] | None = None, *, recover: bool = True) -> Store:
    """Open the repository at ``repo`` (default: the current directory or GITRUNS_REPO).

    Finalises runs whose process died, so every caller sees them as CRASHED.
    """
    from gitruns.storage import Store

    store = Store(repo if repo is not None else os.environ.get(ENV_REPO))
    if recover:
        recover_staged(store)
    return store


def recover_staged(store: Store) -> None:
    """Finalise the staged runs whose process died (a folder listing when none is staged)."""
    if _anything_staged(store):
        # Imported here: recovery loads the finaliser, which a push or a listing with
        # nothing staged (the usual case) never needs.
        from gitruns.recording.recovery import recover_orphans

        recover_orphans(store)


def _anything_staged(store: Store) -> bool:
    try:
        with os.scandir(store.gitruns_dir / STAGING_DIR) as entries:
            return next(entries, None) is not None
    except (FileNotFoundError, NotADirectoryError):
        return False
