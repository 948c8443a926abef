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

import functools
import re
from typing import TYPE_CHECKING

from gitruns.format.ids import RUN_ID_PATTERN, is_run_id
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX

if TYPE_CHECKING:
    from collections.abc import Sequence

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


def all_run_refs(refs: Sequence[tuple[str, str]]) -> bool:
    """True when every ``(name, run id)`` is a run ref of that run id (``parse_run_ref(name)``
    gives that id), decided at once for refs under one prefix (a fetch's): the prefix is
    judged once, the ids in one match. False when one is not, or the refs are not all under
    one prefix: ask ``parse_run_ref`` of each then."""
    if not refs:
        return True
    first, first_id = refs[0]
    parsed = parse_run_ref(first)
    if parsed is None or parsed[1] != first_id:
        return False
    # (a valid run id holds no "/": the prefix splits each name as it does the first)
    prefix = first[: len(first) - len(first_id)]
    names = [name for name, _ in refs]
    run_ids = [run_id for _, run_id in refs]
    if names != [prefix + run_id for run_id in run_ids]:
        return False
    return _run_id_lines().fullmatch("\n".join(run_ids) + "\n") is not None


@functools.cache  # (compiled when first used: listing runs never needs it)
def _run_id_lines() -> re.Pattern[str]:
    """Run ids one a line, each a whole line: what ``is_run_id`` says of each, in one match."""
    run_id = RUN_ID_PATTERN.pattern.removeprefix("^").removesuffix("$")
    return re.compile(f"(?:{run_id}\n)*")


def is_label(remote: str) -> bool:
    """True for a remote name that can label fetched runs: one ref component."""
    return bool(remote) and "/" not in remote and remote != LOCAL


NOT_A_RUN = "is not a run ref (refs/runs/<run id> or refs/remote-runs/<remote>/<run id>)"
NOT_A_RUN_HINT = "it was skipped; remove it with 'git update-ref -d REF' if it is not yours"
