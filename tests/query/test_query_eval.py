"""Filter results checked against a brute-force evaluation written separately here."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from _query_helpers import cached_row
from hypothesis import given, settings
from hypothesis import strategies as st

from gitruns.errors import InvalidInputError
from gitruns.query import compile_filter, parse, parse_sort_key, sort_runs, to_text
from gitruns.query.ast import And, Compare, Field, In, IsNull, Like, Node, Not, Or
from gitruns.query.cache import CachedRun

PARAM_KEYS = ["lr", "opt", "model.depth", "flag"]
METRIC_KEYS = ["acc", "loss", "loss.min", "train/loss"]
VALUES: list[Any] = [0.01, "0.01", 1, 2.5, "adam", "Adam", True, False, "x%y", [1, 2]]
DAY = 86400.0
START = 1_790_000_000.0  # 2026-09-21T...
DATES = ["2026-09-20", "2026-09-22", "2026-09-25T12:00:00Z", "2026-09-23T00:00:00"]


# -- the oracle ---------------------------------------------------------------------------
def _oracle_typed(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str) and re.fullmatch(
        r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", value
    ):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    import json

    return ("s", json.dumps(value, sort_keys=True))


def _oracle_text(value: Any) -> str:
    kind, typed = _oracle_typed(value)
    if kind == "b":
        return "true" if typed else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return value if isinstance(value, str) else typed


def _oracle_compare(op: str, value: Any, literal: Any) -> bool:
    if value is None:
        return False
    a, b = _oracle_typed(value), _oracle_typed(literal)
    if a[0] == b[0] == "b" or a[0] == b[0] == "n":
        x, y = a[1], b[1]
    else:
        x, y = _oracle_text(value), _oracle_text(literal)
    return {
        "=": x == y,
        "!=": x != y,
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
    }[op]


def _oracle_date(text: Any) -> float:
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _oracle_value(run: dict[str, Any], field: Field) -> Any:
    if field.namespace == "attr":
        return run[field.key]
    if field.namespace in ("params", "tags"):
        return run[field.namespace].get(field.key)
    metrics = run["metrics"]
    aggs = ["last", "min", "max", "count"]
    if field.exact:
        summary = metrics.get(field.key)
        return None if summary is None else summary[aggs.index(field.agg or "last")]
    if field.key in metrics:
        return metrics[field.key][0]
    base, _, agg = field.key.rpartition(".")
    if base in metrics and agg in aggs:
        return metrics[base][aggs.index(agg)]
    return None


def oracle(run: dict[str, Any], node: Node) -> bool:
    if isinstance(node, And):
        return oracle(run, node.left) and oracle(run, node.right)
    if isinstance(node, Or):
        return oracle(run, node.left) or oracle(run, node.right)
    if isinstance(node, Not):
        return not oracle(run, node.operand)
    value = _oracle_value(run, node.field)
    if isinstance(node, IsNull):
        return (value is None) != node.negated
    if value is None:
        return False
    if isinstance(node, Like):
        regex = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in node.pattern
        )
        flags = re.S | (re.I if node.ignore_case else 0)
        return bool(re.fullmatch(regex, _oracle_text(value), flags)) != node.negated
    literal_of = (
        (lambda v: _oracle_date(v))
        if node.field.key in ("start_time", "end_time") and node.field.namespace == "attr"
        else (lambda v: v)
    )
    if isinstance(node, In):
        hit = any(_oracle_compare("=", value, literal_of(lit)) for lit in node.values)
        return hit != node.negated
    return _oracle_compare(node.op, value, literal_of(node.value))


# -- generated runs and filters -----------------------------------------------------------
@st.composite
def runs(draw: st.DrawFn, index: int) -> dict[str, Any]:
    params = {k: draw(st.sampled_from(VALUES)) for k in PARAM_KEYS if draw(st.booleans())}
    metrics = {}
    for key in METRIC_KEYS:
        if draw(st.booleans()):
            values = draw(
                st.lists(st.sampled_from([0.0, 0.5, 0.9, 1.0, -2.0]), min_size=1, max_size=3)
            )
            metrics[key] = [values[-1], min(values), max(values), len(values)]
    tags = {
        k: draw(st.sampled_from(["a", "b", "A"])) for k in ("team", "x.y") if draw(st.booleans())
    }
    start = START + draw(st.integers(-3, 5)) * DAY
    return {
        "id": f"0000000{index}-0000-7000-8000-000000000000",
        "name": draw(st.sampled_from(["base", "Base", "res_1", "res%"])),
        "status": draw(st.sampled_from(["FINISHED", "FAILED"])),
        "start_time": start,
        "duration": 10.0,
        "params": params,
        "metrics": metrics,
        "tags": tags,
    }


def to_row(run: dict[str, Any]) -> CachedRun:
    return cached_row(
        run["id"],
        name=run["name"],
        status=run["status"],
        start=run["start_time"],
        duration=run["duration"],
        params=run["params"],
        metrics=run["metrics"],
        tags=run["tags"],
    )


_fields = st.one_of(
    st.sampled_from([Field("params", k) for k in [*PARAM_KEYS, "missing"]]),
    st.sampled_from(
        [Field("metrics", k) for k in [*METRIC_KEYS, "acc.max", "acc.count", "loss.min.min"]]
    ),
    st.sampled_from([Field("metrics", k, a, True) for k in METRIC_KEYS for a in (None, "min")]),
    st.sampled_from([Field("tags", "team"), Field("tags", "x.y"), Field("attr", "name")]),
)
_literals = st.sampled_from([v for v in VALUES if not isinstance(v, list)] + [0.5, -1, "base"])
_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_leaves = st.one_of(
    st.builds(Compare, _fields, _ops, _literals),
    st.builds(In, _fields, st.lists(_literals, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(
        Like,
        _fields,
        st.sampled_from(["%", "res%", "a_am", "%1", "x\\%y", "0.0%"]),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(IsNull, _fields, st.booleans()),
    st.builds(Compare, st.just(Field("attr", "start_time")), _ops, st.sampled_from(DATES)),
)
filters = st.recursive(
    _leaves,
    lambda inner: (
        st.builds(And, inner, inner) | st.builds(Or, inner, inner) | st.builds(Not, inner)
    ),
    max_leaves=5,
)


@settings(max_examples=300)
@given(
    st.lists(st.integers(), min_size=1, max_size=8).flatmap(
        lambda xs: st.tuples(*[runs(i) for i in range(len(xs))])
    ),
    filters,
)
def test_filter_matches_brute_force(generated: tuple[dict[str, Any], ...], tree: Node) -> None:
    predicate = compile_filter(parse(to_text(tree)))
    for run in generated:
        assert predicate(to_row(run)) == oracle(run, tree), (to_text(tree), run)


def test_numbers_and_numeric_text_are_equal() -> None:
    rows = [to_row({**_base(i), "params": {"lr": lr}}) for i, lr in enumerate([0.01, "0.01", 0.1])]
    for text in ("params.lr = 0.01", 'params.lr = "0.01"', "params.lr == 1e-2"):
        assert [compile_filter(parse(text))(r) for r in rows] == [True, True, False]


def test_metric_suffix_is_an_aggregate_unless_the_run_has_that_metric() -> None:
    plain = to_row({**_base(0), "metrics": {"loss": [3.0, 1.0, 5.0, 4]}})
    literal = to_row(
        {**_base(1), "metrics": {"loss": [3.0, 1.0, 5.0, 4], "loss.min": [7.0, 7.0, 7.0, 1]}}
    )
    check = compile_filter(parse("metrics.loss.min = 1"))
    assert check(plain) and not check(literal)
    assert compile_filter(parse("metrics.`loss`.min = 1"))(literal)
    assert compile_filter(parse("metrics.loss.count = 4"))(plain)


def test_dates_status_duration_and_commit_prefix() -> None:
    row = cached_row("r1", start=_day("2026-11-02T10:00:00Z"), duration=300.0, status="FAILED")
    true = [
        'start_time > "2026-11-01"',
        'start_time < "2026-11-02T10:00:01Z"',
        "start_time >= 1793613600000",
        'end_time > "2026-11-02T10:04:59"',
        "status = 'failed'",
        "status in ('FINISHED', 'Failed')",
        'duration >= "5m" and duration < "1h"',
        'commit = "aaaa"',
        f'commit = "{"a" * 40}"',
        "start_time like '2026-11-02%'",
    ]
    false = ['start_time > "2026-11-03"', 'commit = "aab"', "duration > 300", "commit != 'aaaaa'"]
    for text in true:
        assert compile_filter(parse(text))(row), text
    for text in false:
        assert not compile_filter(parse(text))(row), text


def test_a_bad_date_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="start_time needs a date"):
        compile_filter(parse("start_time > 'yesterday'"))


def test_sort_puts_missing_values_last_both_ways() -> None:
    rows = [
        to_row({**_base(i), "metrics": m})
        for i, m in enumerate(
            [{"acc": [0.5, 0, 0, 1]}, {}, {"acc": [0.9, 0, 0, 1]}, {"acc": [math.nan, 0, 0, 1]}]
        )
    ]
    ascending = sort_runs(rows, [parse_sort_key("metrics.acc")])
    assert [r.run_id[7] for r in ascending] == ["0", "2", "3", "1"]
    descending = sort_runs(rows, [parse_sort_key("-metrics.acc")])
    assert [r.run_id[7] for r in descending][-1] == "1"
    assert [r.run_id[7] for r in descending][1:3] == ["2", "0"]


def _base(index: int) -> dict[str, Any]:
    return {
        "id": f"0000000{index}-0000-7000-8000-000000000000",
        "name": "n",
        "status": "FINISHED",
        "start_time": START,
        "duration": 1.0,
        "params": {},
        "metrics": {},
        "tags": {},
    }


def _day(text: str) -> float:
    return _oracle_date(text)
