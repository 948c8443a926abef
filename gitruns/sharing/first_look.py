"""The first look in a fresh clone: ``git clone`` brings no runs, so an empty ``gitruns ls``
says how to see the team's runs instead of only "no runs yet"."""

from __future__ import annotations

from collections.abc import Sequence

from gitruns.query.cache import LOCAL, CachedRun
from gitruns.storage import Store

RECORD_HINT = "record one with 'gitruns record -- python train.py'"
MAX_REMOTES_ASKED = 3


def first_look_hint(store: Store, rows: Sequence[CachedRun]) -> str | None:
    """What to tell someone listing every run (no filter) when none is local yet:
    None when there are local runs."""
    if any(row.origin == LOCAL for row in rows):
        return None
    if rows:
        remotes = sorted({row.origin for row in rows})
        return (
            f"no runs recorded here yet; the runs listed were fetched from "
            f"{', '.join(remotes)}: 'gitruns show ID' reads one, tagging it makes it yours, "
            f"and {RECORD_HINT} adds your own"
        )
    return _remote_hint(store) or f"no runs yet: {RECORD_HINT}"


def _remote_hint(store: Store) -> str | None:
    """Ask the remotes (origin first) whether they hold runs that were never fetched."""
    from gitruns.sharing.peek import remote_run_count
    from gitruns.sharing.remotes import fetch_refspec

    names = store.remote_names()
    ordered = sorted(names, key=lambda name: (name != "origin", name))[:MAX_REMOTES_ASKED]
    for remote in ordered:
        count = remote_run_count(store, remote)
        if not count:
            continue
        fetches = _config_values(store, f"remote.{remote}.fetch")
        if fetch_refspec(remote) in fetches:
            todo = f"run 'git fetch {remote}' to see them"
        else:
            todo = (
                f"run 'gitruns remote setup {remote}' then 'git fetch {remote}' to see them "
                f"(plain git fetch and push carry runs from then on)"
            )
        return f"no runs here yet, but {remote} has {count} run(s): {todo}"
    return None


def _config_values(store: Store, key: str) -> list[str]:
    from gitruns.sharing.gitcli import run_git

    result = run_git(store, ["config", "--get-all", key])
    return result.stdout.splitlines() if result.returncode == 0 else []
