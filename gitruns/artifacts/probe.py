"""Which runs of a push have artifacts at all: one ``git cat-file`` for every run.

A push of a thousand runs, most of them without artifacts, used to read and parse each
run (four YAML files) to find the few with something to upload. Here each run's
``artifacts.yaml`` is read in one bulk process; a run whose file is absent or the empty
list (``[]``, what gitruns writes for a run without artifacts) has nothing to upload and is
left out. Any other content, however it would parse, counts as "has artifacts": the caller
reads and validates those runs in full, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gitruns.format.layout import ARTIFACTS_FILE, RUNS_PREFIX
from gitruns.runs.catfile_session import CatFileSession

if TYPE_CHECKING:
    from gitruns.storage import Store

_EMPTY = (b"", b"[]")


def with_artifacts(
    store: Store,
    commits: Sequence[str],
    *,
    objects: CatFileSession | None = None,
    trees: Mapping[str, str] | None = None,
) -> list[str]:
    """Those of the run ``commits`` whose ``artifacts.yaml`` may list artifacts.

    Two passes of one ``git cat-file`` session: what each run's file is (its blob id, from
    git's index of objects), then the content of each distinct blob once: runs without
    artifacts all share the one blob of ``[]``, so a thousand of them read one small
    object. ``objects``: the session to read through (a push's, which read the runs'
    commits already), else one of its own; ``trees``: the root tree of commits already
    read (``{commit: tree}``), so that git looks the file up from the tree without parsing
    the commit again (``<tree>:artifacts.yaml`` is ``<commit>:artifacts.yaml``)."""
    unique = list(dict.fromkeys(commits))
    if not unique:
        return []
    known = trees or {}
    listing = "".join(f"{known.get(c, c)}:{ARTIFACTS_FILE}\n" for c in unique).encode()
    with contextlib.ExitStack() as stack:
        reads = objects or stack.enter_context(CatFileSession(store))
        infos = reads.raw_info(listing, len(unique))
        blobs = sorted({i[0] for i in infos if i is not None and i[1] == b"blob" and i[2]})
        contents = reads.read_raw(b"".join(b + b"\n" for b in blobs), len(blobs))
    empty = {b for b, obj in zip(blobs, contents, strict=True) if _lists_nothing(obj)}
    return [
        commit
        for commit, info in zip(unique, infos, strict=True)
        if info is not None and (info[1] != b"blob" or (info[2] and info[0] not in empty))
    ]


def _lists_nothing(obj: tuple[bytes, bytes, bytes] | None) -> bool:
    """A blob that lists no artifact: empty, or ``[]`` (blank lines around it)."""
    return obj is not None and obj[2].strip() in _EMPTY


def pushed_run_commits(ref_lines: str) -> list[str]:
    """The run commits of git's pre-push lines (``<local ref> <local sha> <remote ref>
    <remote sha>``): runs being pushed, not deleted."""
    commits = []
    for line in ref_lines.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[0].startswith(RUNS_PREFIX) or not parts[1].strip("0"):
            continue
        commits.append(parts[1])
    return commits
