"""A branch's runs against a baseline on its base: what ``gitruns review`` (and ``gitruns
report --base``) shows in a pull request.

``review_branch`` returns plain data: the code range, the baseline, and for each head run
its diff from the baseline (``runs.compare.diff_runs``: every metric's change with sign and
size, params that differ, the commits between the two code commits). Renderers live in
``display.review``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitruns.format import layout
from gitruns.query.cache import CachedRun, Problem
from gitruns.query.search import select_runs
from gitruns.review.baseline import BaselineRule, choose_baseline, parse_baseline
from gitruns.review.sides import CodeRange, base_side, code_range, head_side
from gitruns.runs.compare import RunDiff, diff_runs
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store


@dataclass
class HeadRun:
    """One run of the head side, and how it differs from the baseline (None: no baseline)."""

    run: Run
    origin: str
    diff: RunDiff | None


@dataclass
class BranchReview:
    code: CodeRange
    rule: BaselineRule
    filter: str | None
    baseline: Run | None
    baseline_origin: str | None
    runs: list[HeadRun]  # newest first
    base_runs: int  # how many runs the base side had to choose from (after the filter)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, JSON-safe: the shape of ``gitruns review --format json``."""
        data: dict[str, Any] = layout.json_safe(
            {
                "code": self.code.to_dict(),
                "filter": self.filter,
                "baseline_rule": self.rule.text,
                "baseline": _identity(self.baseline, self.baseline_origin),
                "base_runs": self.base_runs,
                "runs": [
                    {
                        **(_identity(head.run, head.origin) or {}),
                        "against_baseline": head.diff.to_dict() if head.diff else None,
                    }
                    for head in self.runs
                ],
                "skipped": [{"ref": ref, "why": why} for ref, why in self.problems],
            }
        )
        return data


def _identity(run: Run | None, origin: str | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "origin": origin,
        "start_time": run.start_time,
        "duration_s": run.duration,
        "commit": run.git.get("commit"),
        "dirty": bool(run.git.get("dirty")),
        "params": run.params,
        "metrics": run.metrics,
    }


@dataclass
class BranchRuns:
    """The runs of both sides as cache rows, before any run is read in full."""

    code: CodeRange
    head: list[CachedRun]  # newest first
    base: list[CachedRun]
    baseline: CachedRun | None
    rule: BaselineRule
    problems: list[Problem]


def branch_runs(
    store: Store,
    base: str,
    head: str = "HEAD",
    filter: str | None = None,
    baseline: str | None = None,
) -> BranchRuns:
    """Split the runs matching ``filter`` into the head side and the base side of
    ``base..head`` and choose the baseline among the base side by rule ``baseline``."""
    rule = parse_baseline(baseline)
    code = code_range(store, base, head)
    selection = select_runs(store, filter)
    everything = selection.rows if rule.kind != "run" else select_runs(store).rows
    base_rows = base_side(store, selection.rows, code.base_commit)
    return BranchRuns(
        code=code,
        head=head_side(selection.rows, code),
        base=base_rows,
        baseline=choose_baseline(rule, base_rows, everything),
        rule=rule,
        problems=selection.problems,
    )


def review_branch(
    store: Store,
    base: str,
    head: str = "HEAD",
    filter: str | None = None,
    baseline: str | None = None,
    *,
    max_runs: int | None = None,
) -> BranchReview:
    """The head side's runs (newest first, at most ``max_runs``), each diffed against the
    baseline; see ``branch_runs`` for how runs are chosen."""
    sides = branch_runs(store, base, head, filter, baseline)
    chosen = sides.head[:max_runs] if max_runs is not None else sides.head
    base_run = _load(store, sides.baseline) if sides.baseline is not None else None
    runs = []
    for row in chosen:
        run = _load(store, row)
        diff = diff_runs(store, base_run, run) if base_run is not None else None
        runs.append(HeadRun(run, row.origin, diff))
    return BranchReview(
        code=sides.code,
        rule=sides.rule,
        filter=filter,
        baseline=base_run,
        baseline_origin=sides.baseline.origin if sides.baseline is not None else None,
        runs=runs,
        base_runs=len(sides.base),
        problems=sides.problems,
    )


def _load(store: Store, row: CachedRun) -> Run:
    return load_run(store, row.run_id, row.commit_id)
