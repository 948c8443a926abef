"""Which runs of a push have artifacts at all: one ``git cat-file`` for every run.

A push of a thousand runs, most of them without artifacts, used to read and parse each
run (four YAML files) to find the few with something to upload. Here each run's
``artifacts.yaml`` is read in one bulk process; a run whose file is absent or the empty
list (``[]``, what gitruns writes for a run without artifacts) has nothing to upload and is
left out. Any other content, however it would parse, counts as "has artifacts": the caller
reads and validates those runs in full, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitruns.format.layout import ARTIFACTS_FILE, RUNS_PREFIX
from gitruns.runs.gitbatch import read_objects

if TYPE_CHECKING:
    from gitruns.storage import Store

_EMPTY = (b"", b"[]")


def with_artifacts(store: Store, commits: Sequence[str]) -> list[str]:
    """Those of the run ``commits`` whose ``artifacts.yaml`` may list artifacts."""
    unique = list(dict.fromkeys(commits))
    found = read_objects(store, [f"{commit}:{ARTIFACTS_FILE}" for commit in unique])
    return [
        commit
        for commit, obj in zip(unique, found, strict=True)
        if obj is not None and (obj[1] != "blob" or obj[2].strip() not in _EMPTY)
    ]


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
