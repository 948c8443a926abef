"""``gitruns check``: expressions of the filter language, with ``baseline.`` fields, judged
on a branch's runs. Every expression must hold for every judged run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import InvalidInputError
from gitruns.format import layout
from gitruns.query import compile_filter, getter, parse
from gitruns.query.ast import And, Calc, Node, Not, Or, Ref, refs_of
from gitruns.query.cache import CachedRun, Problem
from gitruns.query.search import select_runs
from gitruns.review.baseline import choose_baseline, parse_baseline
from gitruns.review.branch_review import branch_runs
from gitruns.review.sides import CodeRange, at_commit, resolve_revision
from gitruns.storage import Store

PASS, FAIL, NOTHING_TO_JUDGE = "pass", "fail", "nothing to judge"


@dataclass
class Verdict:
    """One expression on one run, and the values it read (``baseline.`` ones included)."""

    expression: str
    run: CachedRun
    holds: bool
    values: dict[str, Any]


@dataclass
class CheckResult:
    expressions: list[str]
    runs: list[CachedRun]  # judged, newest first
    baseline: CachedRun | None
    verdicts: list[Verdict]
    nothing_to_judge: str | None = None  # why, when there was nothing to judge
    code: CodeRange | None = None
    head_commit: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.nothing_to_judge is not None:
            return NOTHING_TO_JUDGE
        return PASS if all(v.holds for v in self.verdicts) else FAIL

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.holds]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = layout.json_safe(
            {
                "outcome": self.outcome,
                "nothing_to_judge": self.nothing_to_judge,
                "expressions": self.expressions,
                "head_commit": self.head_commit,
                "code": self.code.to_dict() if self.code else None,
                "baseline": _row_identity(self.baseline),
                "runs": [_row_identity(row) for row in self.runs],
                "verdicts": [
                    {
                        "expression": v.expression,
                        "run": v.run.run_id,
                        "holds": v.holds,
                        "values": v.values,
                    }
                    for v in self.verdicts
                ],
            }
        )
        return data


def _row_identity(row: CachedRun | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.run_id, "name": row.name, "status": row.status, "origin": row.origin}


def parse_expressions(expressions: Sequence[str]) -> list[Node]:
    if not expressions:
        raise InvalidInputError("no expression to check", "give one, e.g. 'metrics.acc > 0.9'")
    return [parse(text, baseline=True) for text in expressions]


def needs_baseline(trees: Sequence[Node]) -> bool:
    return any(ref.baseline for tree in trees for ref in refs_in(tree))


def refs_in(node: Node) -> list[Ref]:
    """Every field an expression reads, in order, without repeats."""
    if isinstance(node, And | Or):
        found = refs_in(node.left)
        return found + [r for r in refs_in(node.right) if r not in found]
    if isinstance(node, Not):
        return refs_in(node.operand)
    if isinstance(node, Calc):
        return list(dict.fromkeys(refs_of(node.left) + refs_of(node.right)))
    return [Ref(node.field)]


def judge(
    rows: Sequence[CachedRun],
    expressions: Sequence[str],
    trees: Sequence[Node],
    baseline: CachedRun | None,
) -> list[Verdict]:
    """Each expression on each run: whether it holds and the values it read."""
    verdicts = []
    for text, tree in zip(expressions, trees, strict=True):
        predicate = compile_filter(tree, baseline)
        refs = refs_in(tree)
        for row in rows:
            values = {_label(ref): _value(ref, row, baseline) for ref in refs}
            verdicts.append(Verdict(text, row, bool(predicate(row)), values))
    return verdicts


def _value(ref: Ref, row: CachedRun, baseline: CachedRun | None) -> Any:
    source = baseline if ref.baseline else row
    return None if source is None else getter(ref.field)(source)


def _label(ref: Ref) -> str:
    return ("baseline." if ref.baseline else "") + ref.field.to_text()


def check_runs(
    store: Store,
    expressions: Sequence[str],
    *,
    base: str | None = None,
    head: str = "HEAD",
    filter: str | None = None,
    baseline: str | None = None,
    latest_only: bool = False,
) -> CheckResult:
    """Judge ``expressions`` on the head runs: with ``base``, the runs of ``base..head``;
    without, the runs of the head commit itself. ``baseline`` chooses the run that
    ``baseline.`` fields read (see review.baseline); without ``base`` it must name a run."""
    trees = parse_expressions(expressions)
    wanted = needs_baseline(trees)
    rule = parse_baseline(baseline)
    code = None
    if base is not None:
        sides = branch_runs(store, base, head, filter, baseline)
        rows, chosen, problems, code = sides.head, sides.baseline, sides.problems, sides.code
        head_commit = code.head_commit
    else:
        if wanted and rule.kind != "run":
            raise InvalidInputError(
                "baseline fields need a baseline: the base branch to take it from",
                "give --base (e.g. --base origin/main) or --baseline RUN",
            )
        head_commit = resolve_revision(store, head, "head")
        selection = select_runs(store, filter)
        rows, problems = at_commit(selection.rows, head_commit), selection.problems
        chosen = choose_baseline(rule, [], select_runs(store).rows) if wanted else None
    if latest_only:
        rows = rows[:1]
    result = CheckResult(list(expressions), rows, chosen if wanted else None, [], None, code)
    result.head_commit, result.problems = head_commit, problems
    if not rows:
        where = f"{code.base}..{code.head}" if code else f"commit {head_commit[:12]}"
        result.nothing_to_judge = f"no run{' matching the filter' if filter else ''} on {where}"
    elif wanted and chosen is None:
        result.nothing_to_judge = f"no baseline: {rule.describe()} (none found)"
    else:
        result.verdicts = judge(rows, expressions, trees, result.baseline)
    return result
