"""Which runs belong to a branch: the head side (code in ``base..head``) and the base side.

A run belongs to the commit it ran on (``git.commit`` in run.yaml, the cache's
``code_commit``). The head side is every run whose commit is reachable from the head and not
from the base (the pull request's own commits); the base side is every run whose commit the
base reaches. Runs whose commit is not in this repository (fetched from someone who never
pushed that code) belong to neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import GitrunsError
from gitruns.query.cache import CachedRun
from gitruns.storage import Store

MAX_COMMITS_LISTED = 50


@dataclass
class CodeRange:
    """``base..head`` as given and as resolved, with the commits it holds (newest first)."""

    base: str
    head: str
    base_commit: str
    head_commit: str
    merge_base: str | None
    commits: list[tuple[str, str]] = field(default_factory=list)  # (40 hex, subject)
    count: int = 0
    members: set[str] = field(default_factory=set, repr=False)  # every commit of base..head

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "base_commit": self.base_commit,
            "head_commit": self.head_commit,
            "merge_base": self.merge_base,
            "count": self.count,
            "commits": [{"commit": c, "subject": s} for c, s in self.commits],
        }


def resolve_revision(store: Store, revision: str, role: str) -> str:
    commit = store.resolve_commit(revision)
    if commit is None:
        raise GitrunsError(
            f"no branch or commit '{revision}' (the {role})",
            "fetch it first (git fetch origin <branch>; in CI, clone with full history: "
            "fetch-depth 0 on GitHub, GIT_DEPTH 0 on GitLab)",
        )
    return commit


def code_range(store: Store, base: str, head: str) -> CodeRange:
    """Resolve ``base`` and ``head`` and list the commits of ``base..head``."""
    base_commit = resolve_revision(store, base, "base")
    head_commit = resolve_revision(store, head, "head")
    listed = store.git("rev-list", f"{base_commit}..{head_commit}", "--").split()
    logged = store.git(
        "log",
        f"--max-count={MAX_COMMITS_LISTED}",
        "--format=%H %s",
        f"{base_commit}..{head_commit}",
        "--",
    ).splitlines()
    if head == "HEAD":  # say which branch: "feature", or HEAD when detached
        head = store.git("rev-parse", "--abbrev-ref", "HEAD").strip() or head
    return CodeRange(
        base=base,
        head=head,
        base_commit=base_commit,
        head_commit=head_commit,
        merge_base=store.merge_base(base_commit, head_commit),
        commits=[(line[:40], line[41:]) for line in logged],
        count=len(listed),
        members=set(listed),
    )


def head_side(rows: Iterable[CachedRun], code: CodeRange) -> list[CachedRun]:
    """Runs whose code commit is in ``base..head``."""
    return [row for row in rows if row.code_commit in code.members]


def base_side(store: Store, rows: Iterable[CachedRun], base_commit: str) -> list[CachedRun]:
    """Runs whose code commit is the base or one of its ancestors: one ``git rev-list``
    over the runs' commits, whatever their number (10,000 runs on as many commits)."""
    rows = list(rows)
    present = {r.code_commit for r in rows if r.code_commit and store.has_commit(r.code_commit)}
    outside = store.unreachable(present, {base_commit})
    return [row for row in rows if row.code_commit in present and row.code_commit not in outside]


def at_commit(rows: Iterable[CachedRun], commit: str) -> list[CachedRun]:
    """Runs that ran on exactly ``commit`` (bisect; check without a base)."""
    return [row for row in rows if row.code_commit == commit]
