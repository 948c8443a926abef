"""Which refs are runs: exactly ``refs/runs/<run id>`` (local) or
``refs/remote-runs/<remote>/<run id>`` (fetched), with a UUIDv7 run id and a remote name of
one ref component.

Every path that turns refs into runs asks here: listing (the cache, after any plain ``git
fetch``), looking a run up, ``gitruns fetch``, ``pull`` and bundles. Anything else under those
prefixes (``refs/runs/evil/<id>``, which a remote can push and a plain ``git fetch`` brings
in) is not a run: it is reported where runs are listed and never shown, merged or counted.
A remote name with ``/`` is refused for fetching, since ``refs/remote-runs/a/b/<id>`` could
then be remote ``a/b``'s run or remote ``a``'s nested ref.
"""

from __future__ import annotations

from gitruns.format.ids import is_run_id
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX

LOCAL = "local"


def parse_run_ref(name: str) -> tuple[str, str] | None:
    """``(origin, run id)`` of a run ref (origin ``"local"`` for refs/runs/), or None when
    ``name`` is not exactly a run ref."""
    if name.startswith(RUNS_PREFIX):
        rest = name[len(RUNS_PREFIX) :]
        return (LOCAL, rest) if is_run_id(rest) else None
    if name.startswith(REMOTE_RUNS_PREFIX):
        origin, _, run_id = name[len(REMOTE_RUNS_PREFIX) :].partition("/")
        if is_label(origin) and is_run_id(run_id):
            return origin, run_id
    return None


def is_label(remote: str) -> bool:
    """True for a remote name that can label fetched runs: one ref component."""
    return bool(remote) and "/" not in remote and remote != LOCAL


NOT_A_RUN = "is not a run ref (refs/runs/<run id> or refs/remote-runs/<remote>/<run id>)"
NOT_A_RUN_HINT = "it was skipped; remove it with 'git update-ref -d REF' if it is not yours"
