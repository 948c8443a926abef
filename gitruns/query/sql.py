"""A SQL pre-filter for the cache: fetch only rows that may match, then filter in Python.

Only terms whose SQL meaning is exactly the Python one are pushed down: numeric
comparisons on metric summaries, on params (numbers and numeric text), text equality on
params, the time and duration attributes, and whether a run has a parent, when they are
joined by a top-level ``and``. Rows the pre-filter keeps are still checked by the Python
predicate, so the pre-filter may keep too many rows, never too few.
"""

from __future__ import annotations

import math
from typing import Any

from gitruns.query.ast import AGGREGATES, And, Compare, Field, IsNull, Node
from gitruns.query.evaluate import literal_for
from gitruns.query.values import as_number, as_text

_SQL_OPS = ("=", "<", "<=", ">", ">=")
_TIME_COLUMNS = {"start_time": "start_ts", "end_time": "end_ts", "duration": "duration"}
_METRIC_SQL = "ref IN (SELECT ref FROM metric_values WHERE {})"
_PARAM_SQL = "ref IN (SELECT ref FROM param_values WHERE key = ? AND {})"

Clause = tuple[str, list[Any]]


def prefilter(node: Node | None) -> Clause | None:
    """A WHERE clause over the ``runs`` table, or None when nothing can be pushed down."""
    clauses = [c for c in (_clause(term) for term in _conjuncts(node)) if c is not None]
    if not clauses:
        return None
    return " AND ".join(f"({sql})" for sql, _ in clauses), [a for _, args in clauses for a in args]


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _clause(node: Node) -> Clause | None:
    if isinstance(node, IsNull) and node.field == Field("attr", "parent"):
        # a run's own parents (run.yaml), so exact; children are not: a child in progress
        # is not in the cache
        return f"ref {'IN' if node.negated else 'NOT IN'} (SELECT ref FROM run_parents)", []
    if not isinstance(node, Compare) or node.op not in _SQL_OPS:
        return None
    field, op = node.field, node.op
    if field.namespace == "attr" and field.key in _TIME_COLUMNS:
        return f"{_TIME_COLUMNS[field.key]} {op} ?", [literal_for(field, node.value)]
    number = None if isinstance(node.value, bool) else as_number(node.value)
    if number is not None and math.isinf(number) and type(node.value) is int:
        return None  # an int no float holds: compared exactly, in Python, not in SQL
    if field.namespace == "metrics" and number is not None:
        return _metric_clause(field, op, number)
    if field.namespace == "params" and not isinstance(node.value, bool):
        return _param_clause(field.key, op, node.value, number)
    return None


def _metric_clause(field: Field, op: str, number: float) -> Clause:
    if field.exact:
        sql = f"key = ? AND {field.agg or 'last'} {op} ?"
        return _METRIC_SQL.format(sql), [field.key, number]
    base, _, suffix = field.key.rpartition(".")
    if base and suffix in AGGREGATES:  # the metric named so, or an aggregate of ``base``
        sql = f"(key = ? AND last {op} ?) OR (key = ? AND {suffix} {op} ?)"
        return _METRIC_SQL.format(sql), [field.key, number, base, number]
    return _METRIC_SQL.format(f"key = ? AND last {op} ?"), [field.key, number]


def _param_clause(key: str, op: str, value: Any, number: float | None) -> Clause | None:
    if number is None:
        if op != "=":
            return None
        return _PARAM_SQL.format("text = ?"), [key, as_text(value)]
    if op == "=":  # a non-numeric value's text never equals a number's text
        return _PARAM_SQL.format("num = ?"), [key, number]
    return _PARAM_SQL.format(f"(num {op} ? OR num IS NULL)"), [key, number]
