"""Turn syntax trees into Python predicates and sort keys over cached runs.

Filters run in Python over the rows of the sqlite cache rather than as SQL: the typing
rules (numbers vs text, dates, metric-name resolution) are easier to keep exact here,
and a scan of 10,000 cached rows takes a few milliseconds (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from gitruns.errors import InvalidInputError
from gitruns.query import values as v
from gitruns.query.ast import (
    AGGREGATES,
    RELATIVES,
    And,
    Calc,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Literal,
    Negate,
    Node,
    Not,
    Operand,
    Or,
    Ref,
)
from gitruns.query.lineage import relative_predicate

_AGG_INDEX = {name: i for i, name in enumerate(AGGREGATES)}  # last, min, max, count
_TIMES = ("start_time", "end_time")

Getter = Callable[["Row"], Any]
Predicate = Callable[["Row"], bool]


class Row(Protocol):
    """What a filter needs of a run (gitruns.query.cache.CachedRun is one)."""

    @property
    def params(self) -> Mapping[str, Any]: ...  # flattened: "model.layers" -> 12

    @property
    def metrics(self) -> Mapping[str, Sequence[float]]: ...  # key -> [last, min, max, count]

    @property
    def tags(self) -> Mapping[str, str]: ...

    @property
    def resources(self) -> Mapping[str, Any]: ...  # flattened: "gpus.0.peak_memory_mb" -> 2048

    def attribute(self, name: str) -> Any: ...  # times as epoch seconds


def getter(field: Field) -> Getter:
    """A function that reads ``field`` from a row (None when the run lacks it)."""
    key = field.key
    if field.namespace == "attr":
        return lambda row: row.attribute(key)
    if field.namespace == "params":
        return lambda row: row.params.get(key)
    if field.namespace == "tags":
        return lambda row: row.tags.get(key)
    if field.namespace == "resources":
        return lambda row: row.resources.get(key)
    if field.exact:
        index = _AGG_INDEX[field.agg or "last"]
        return lambda row: _summary_value(row.metrics.get(key), index)
    return _metric_getter(key)


def _metric_getter(key: str) -> Getter:
    """``metrics.a.min``: the metric named ``a.min`` if the run has one, else min of ``a``."""
    base, _, suffix = key.rpartition(".")
    index = _AGG_INDEX.get(suffix) if base else None

    def get(row: Row) -> Any:
        metrics = row.metrics
        summary = metrics.get(key)
        if summary is not None:
            return summary[0]
        if index is not None:
            return _summary_value(metrics.get(base), index)
        return None

    return get


def _summary_value(summary: Sequence[float] | None, index: int) -> Any:
    if summary is None:
        return None
    return int(summary[index]) if index == 3 else summary[index]


def compile_filter(node: Node | None, baseline: Row | None = None) -> Predicate:
    """A predicate for the tree; None (no filter) matches every run.

    ``baseline`` is the run that ``baseline.`` fields read (``gitruns check``); a tree that
    names one needs it.
    """
    if node is None:
        return lambda row: True
    if isinstance(node, And):
        left, right = compile_filter(node.left, baseline), compile_filter(node.right, baseline)
        return lambda row: left(row) and right(row)
    if isinstance(node, Or):
        left, right = compile_filter(node.left, baseline), compile_filter(node.right, baseline)
        return lambda row: left(row) or right(row)
    if isinstance(node, Not):
        inner = compile_filter(node.operand, baseline)
        return lambda row: not inner(row)
    if isinstance(node, Calc):
        return _calc(node, baseline)
    if isinstance(node, IsNull):
        get, negated = getter(node.field), node.negated
        return lambda row: (get(row) is None) != negated
    if node.field.namespace == "attr" and node.field.key in RELATIVES:
        return relative_predicate(node)
    if isinstance(node, Like):
        return _like(node)
    if isinstance(node, In):
        return _in(node)
    return _compare(node)


def _compare(node: Compare) -> Predicate:
    get, op = getter(node.field), node.op
    literal = literal_for(node.field, node.value)
    if node.field == Field("attr", "commit") and op in ("=", "!="):
        matches = _commit_matcher([literal])
        want = op == "="
        return lambda row: (value := get(row)) is not None and matches(value) == want
    return lambda row: v.compare(op, get(row), literal)


def _calc(node: Calc, baseline: Row | None) -> Predicate:
    """Arithmetic, or fields on both sides. Two plain operands compare as ``Compare`` does
    (numbers as numbers, else text); arithmetic needs numbers, and a missing or
    non-numeric operand (or a division by zero) makes the comparison false, like SQL's NULL."""
    left, right = operand_reader(node.left, baseline), operand_reader(node.right, baseline)
    if isinstance(node.left, Ref) and isinstance(node.right, Literal):
        literal = literal_for(node.left.field, node.right.value)
        return lambda row: v.compare(node.op, left(row), literal)
    if isinstance(node.left, Literal) and isinstance(node.right, Ref):
        literal = literal_for(node.right.field, node.left.value)
        flipped = _FLIPPED[node.op]
        return lambda row: v.compare(flipped, right(row), literal)
    op = node.op
    return lambda row: (b := right(row)) is not None and v.compare(op, left(row), b)


_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def operand_reader(operand: Operand, baseline: Row | None) -> Getter:
    """A function of a row giving the operand's value (None when missing or undefined)."""
    if isinstance(operand, Literal):
        value = operand.value
        return lambda row: value
    if isinstance(operand, Ref):
        get = getter(operand.field)
        if not operand.baseline:
            return get
        if baseline is None:
            raise InvalidInputError(
                f"{operand.field.to_text()} of the baseline was asked, but there is no baseline",
                "baseline fields are for gitruns check, which chooses the baseline run",
            )
        value = get(baseline)
        return lambda row: value
    if isinstance(operand, Negate):
        inner = operand_reader(operand.operand, baseline)
        return lambda row: None if (x := _number(inner(row))) is None else -x
    left, right = operand_reader(operand.left, baseline), operand_reader(operand.right, baseline)
    apply = _ARITHMETIC[operand.op]

    def calculate(row: Row) -> float | None:
        a, b = _number(left(row)), _number(right(row))
        if a is None or b is None or (operand.op == "/" and b == 0):
            return None
        return apply(a, b)

    return calculate


def _number(value: Any) -> float | None:
    """Arithmetic's operands: numbers, numeric text and durations (``"10m"``: seconds)."""
    number = v.as_number(value)
    if number is None and isinstance(value, str):
        return v.parse_duration_literal(value)
    return number


def _in(node: In) -> Predicate:
    get, negated = getter(node.field), node.negated
    literals = [literal_for(node.field, value) for value in node.values]
    if node.field == Field("attr", "commit"):
        matches = _commit_matcher(literals)
    else:

        def matches(value: Any) -> bool:
            return any(v.compare("=", value, lit) for lit in literals)

    return lambda row: (value := get(row)) is not None and matches(value) != negated


def _like(node: Like) -> Predicate:
    get = getter(node.field)
    if node.field.namespace == "attr" and node.field.key in _TIMES:
        raw = get
        get = lambda row: _iso(raw(row))  # noqa: E731 - a one-line adapter
    match, negated = v.like_matcher(node.pattern, node.ignore_case), node.negated
    return lambda row: (value := get(row)) is not None and match(v.as_text(value)) != negated


def literal_for(field: Field, value: Any) -> Any:
    """Convert a literal to the field's kind: dates to epoch seconds, "5m" to seconds."""
    if field.namespace != "attr":
        return value
    if field.key in _TIMES:
        seconds = v.parse_time_literal(value)
        if seconds is None:
            raise InvalidInputError(
                f"{field.key} needs a date or time, not {value!r}",
                'write it like "2026-11-01" or "2026-11-01T09:30:00Z"',
            )
        return seconds
    if field.key == "duration":
        seconds = v.parse_duration_literal(value)
        if seconds is None:
            raise InvalidInputError(
                f'duration needs seconds or a length like "90s", "5m", "2h", not {value!r}',
                'write it like duration > "5m"',
            )
        return seconds
    if field.key == "status" and isinstance(value, str):
        return value.upper()
    if field.key == "children" and v.as_number(value) is None:
        raise InvalidInputError(
            f"children is the number of child runs, not {value!r}",
            "write children > 0, or child = 'RUN' for the runs that have RUN as a child",
        )
    return value


def _commit_matcher(literals: Sequence[Any]) -> Callable[[Any], bool]:
    """A code commit matches a literal that is the full id or a prefix of 4+ hex digits."""
    texts = [v.as_text(lit).lower() for lit in literals]
    prefixes = tuple(t for t in texts if len(t) >= 4)
    return lambda value: str(value) in texts or str(value).startswith(prefixes)


def _iso(seconds: Any) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sort_runs(rows: list[Any], keys: Sequence[tuple[Field, bool]]) -> list[Any]:
    """Sort by ``(field, descending)`` keys, the first key most significant; runs
    missing a value come last in either direction."""
    ordered = list(rows)
    for field, descending in reversed(keys):
        get = getter(field)
        present = [(get(row), row) for row in ordered]
        missing = [row for value, row in present if value is None]
        keyed = [(_sort_value(value), row) for value, row in present if value is not None]
        keyed.sort(key=lambda pair: pair[0], reverse=descending)
        ordered = [row for _, row in keyed] + missing
    return ordered


def _sort_value(value: Any) -> tuple[int, Any]:
    """Numbers before text; NaN after the numbers; never compare a number with text."""
    number = v.as_number(value)
    if number is not None:
        return (1, 0.0) if number != number else (0, number)
    return (2, v.as_text(value))
