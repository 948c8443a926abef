"""The filter language's parser: examples, round trips (hypothesis) and error columns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitruns.errors import GitrunsError
from gitruns.query import QuerySyntaxError, parse, parse_field, parse_sort_key, to_text
from gitruns.query.ast import (
    AGGREGATES,
    ATTRIBUTES,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Node,
    Not,
    Or,
)

ACC = Field("metrics", "acc")


def test_mlflow_style_filter() -> None:
    node = parse('metrics.acc > 0.9 and params.optimizer = "adam"')
    assert node == And(Compare(ACC, ">", 0.9), Compare(Field("params", "optimizer"), "=", "adam"))


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    a, b, c = (Compare(Field("params", k), "=", 1) for k in "abc")
    assert parse("params.a = 1 or params.b = 1 and params.c = 1") == Or(a, And(b, c))
    assert parse("(params.a = 1 or params.b = 1) and params.c = 1") == And(Or(a, b), c)
    assert parse("not params.a = 1 and params.b = 1") == And(Not(a), b)


def test_keywords_are_case_insensitive_and_mlflow_aliases_work() -> None:
    node = parse("attributes.status = 'FINISHED' AND metric.acc >= 1 AND tag.x IS NOT NULL")
    assert node == And(
        And(Compare(Field("attr", "status"), "=", "FINISHED"), Compare(ACC, ">=", 1)),
        IsNull(Field("tags", "x"), negated=True),
    )
    assert parse("run_name == 'a'") == Compare(Field("attr", "name"), "=", "a")
    assert parse("params.a <> 2") == Compare(Field("params", "a"), "!=", 2)


def test_in_like_and_null_forms() -> None:
    lr = Field("params", "lr")
    assert parse("params.lr in (0.1, '0.01', true)") == In(lr, (0.1, "0.01", True))
    assert parse("params.lr not in (1)") == In(lr, (1,), negated=True)
    assert parse("name like 'res%'") == Like(Field("attr", "name"), "res%")
    assert parse("name not ilike 'RES_'") == Like(Field("attr", "name"), "RES_", True, True)
    assert parse("params.lr is null") == IsNull(lr)


def test_metric_keys_with_dots_slashes_and_backquotes() -> None:
    assert parse_field("metrics.train/loss.min") == Field("metrics", "train/loss.min")
    assert parse_field("metrics.`val.loss`") == Field("metrics", "val.loss", exact=True)
    assert parse_field("metrics.`val.loss`.max") == Field("metrics", "val.loss", "max", True)
    assert parse_field("params.`my key`") == Field("params", "my key")
    assert parse_field("params.model.layers") == Field("params", "model.layers")
    assert parse_field("tags.`a``b`") == Field("tags", "a`b")


def test_sort_keys() -> None:
    assert parse_sort_key("-metrics.acc") == (ACC, True)
    assert parse_sort_key("start_time") == (Field("attr", "start_time"), False)
    assert parse_sort_key("metrics.acc DESC") == (ACC, True)


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        ("metrics.acc > and x", 15, "expected a value"),
        ("metrics.acc 0.9", 13, "expected an operator"),
        ("(metrics.acc > 1", 17, "expected ')'"),
        ("metrics.acc > 1 params.x = 2", 17, "unexpected 'params.x'"),
        ("nme = 'x'", 1, "unknown field 'nme'"),
        ("params.a = 'open", 12, "unterminated string"),
        ("params.a in 1", 13, "expected '('"),
        ("params.a is 1", 13, "expected 'null'"),
        ("params. = 1", 8, "expected a key"),
        ("params.a = 1 and", 17, "expected a field"),
        ("params.a ~ 1", 10, "unexpected '~'"),
        ("params.a = null", 12, "with 'is null'"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    error = caught.value
    assert isinstance(error, GitrunsError)
    assert error.column == column
    assert problem in error.problem
    lines = error.message.splitlines()
    assert lines[0].startswith(f"syntax error at column {column}: ")
    assert lines[1] == f"  {text}"
    assert lines[2] == "  " + " " * (column - 1) + "^"


# -- round trips: any tree prints as text that parses back to the same tree -------------
_plain = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,6}", fullmatch=True).filter(
    lambda s: s.lower() not in {"and", "or", "not", "in", "like", "ilike", "is", "null"}
)
_any_key = st.text(min_size=1, max_size=8)
_dotted = st.lists(_plain, min_size=1, max_size=3).map(".".join)


@st.composite
def fields(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(["attr", "params", "tags", "metrics", "exact"]))
    if kind == "attr":
        return Field("attr", draw(st.sampled_from(ATTRIBUTES)))
    if kind == "exact":
        agg = draw(st.none() | st.sampled_from(AGGREGATES))
        return Field("metrics", draw(_any_key), agg, exact=True)
    key = draw(_dotted | _any_key if kind != "metrics" else _dotted)
    if kind == "tags" and key.startswith("mlflow."):  # MLflow's system tags: other fields
        key = "x" + key
    return Field(kind, key)


_values = (
    st.text(max_size=8)
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)
_leaves = st.one_of(
    st.builds(Compare, fields(), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _values),
    st.builds(In, fields(), st.lists(_values, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(Like, fields(), st.text(max_size=6), st.booleans(), st.booleans()),
    st.builds(IsNull, fields(), st.booleans()),
)
trees: st.SearchStrategy[Node] = st.recursive(
    _leaves,
    lambda inner: (
        st.builds(And, inner, inner) | st.builds(Or, inner, inner) | st.builds(Not, inner)
    ),
    max_leaves=8,
)


@given(trees)
def test_round_trip(tree: Node) -> None:
    assert parse(to_text(tree)) == tree


@given(fields())
def test_field_round_trip(field: Field) -> None:
    assert parse_field(field.to_text()) == field


@given(st.text(max_size=30))
def test_any_text_parses_or_fails_with_a_column_inside_it(text: str) -> None:
    try:
        parse(text)
    except QuerySyntaxError as error:
        assert 1 <= error.column <= len(text) + 1


@given(trees, st.data())
def test_truncated_text_fails_at_or_before_its_end(tree: Node, data: st.DataObject) -> None:
    text = to_text(tree)
    cut = data.draw(st.integers(0, len(text) - 1))
    try:
        parse(text[:cut])
    except QuerySyntaxError as error:
        assert error.column <= cut + 1
