"""Arithmetic and ``baseline.`` fields in the filter language (``gitruns check``): parsing,
printing, evaluation against a brute-force oracle, and the SQL pre-filter staying exact."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_query_eval import (
    _oracle_compare,
    _oracle_value,
    filters,
    oracle,
    runs,
    to_row,
)
from test_query_parser import fields

from gitruns.errors import InvalidInputError
from gitruns.query import QuerySyntaxError, cache, compile_filter, parse, to_text
from gitruns.query.ast import (
    And,
    Arith,
    Calc,
    Compare,
    Field,
    Literal,
    Negate,
    Node,
    Not,
    Operand,
    Or,
    Ref,
    fields_of,
    refs_of,
)
from gitruns.query.sql import prefilter

ACC = Field("metrics", "acc")


def test_gate_expressions_parse_as_written() -> None:
    node = parse("metrics.acc >= baseline.metrics.acc - 0.01", baseline=True)
    assert node == Calc(Ref(ACC), ">=", Arith("-", Ref(ACC, True), Literal(0.01)))
    relative = parse(
        "(metrics.acc - baseline.metrics.acc) / baseline.metrics.acc > -0.05", baseline=True
    )
    assert isinstance(relative, Calc) and isinstance(relative.left, Arith)
    assert relative.left.op == "/" and relative.right == Literal(-0.05)
    # ``field op literal`` stays a Compare (the SQL pre-filter uses it), with or without
    # the new tokens nearby
    assert parse("metrics.loss.min < 0.3") == Compare(Field("metrics", "loss.min"), "<", 0.3)
    assert parse("duration < '2h'") == Compare(Field("attr", "duration"), "<", "2h")
    assert parse("params.x = -1") == Compare(Field("params", "x"), "=", -1)


def test_precedence_signs_and_grouping() -> None:
    a, b = Ref(Field("metrics", "a")), Ref(Field("metrics", "b"))
    assert parse("metrics.a + metrics.b * 2 > 1").left == Arith(  # type: ignore[union-attr]
        "+", a, Arith("*", b, Literal(2))
    )
    assert parse("metrics.a - metrics.b - 1 > 0").left == Arith(  # type: ignore[union-attr]
        "-", Arith("-", a, b), Literal(1)
    )
    assert parse("metrics.a -1 > 0").left == Arith("-", a, Literal(1))  # type: ignore[union-attr]
    assert parse("-metrics.a > 0") == Calc(Negate(a), ">", Literal(0))
    assert parse("params.a = params.b") == Calc(
        Ref(Field("params", "a")), "=", Ref(Field("params", "b"))
    )
    # a parenthesis opens arithmetic only when an operator follows its match
    grouped = parse("(metrics.a > 1 or metrics.b > 1) and params.x = 1")
    assert isinstance(grouped, And) and isinstance(grouped.left, Or)
    assert parse("((metrics.a)) * 2 > 1") == Calc(Arith("*", a, Literal(2)), ">", Literal(1))
    assert parse("0.9 < metrics.a") == Calc(Literal(0.9), "<", a)


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        ("metrics.acc >= baseline.metrics.acc", 16, "only known to 'gitruns check'"),
        ("metrics.a > 1 + 'adam'", 17, "is not a number or a duration"),
        ("metrics.a * true > 1", 13, "is not a number"),
        ("1 = 1", 1, "a comparison needs a field"),
        ("metrics.a > 1 +", 16, "expected a value"),
        ("params.opt = adam", 14, 'quote text: "adam"'),
        ("(metrics.a - 1 > 2", 19, "expected ')'"),
        ("metrics.a ^ 2 > 1", 11, "unexpected '^'"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    assert caught.value.column == column, caught.value.message
    assert problem in caught.value.problem


def test_baseline_fields_cannot_take_in_like_or_is() -> None:
    with pytest.raises(QuerySyntaxError, match="not of the baseline"):
        parse("baseline.params.x is null", baseline=True)


def test_deep_arithmetic_is_refused_not_a_crash() -> None:
    for text in ("-" * 5000 + "metrics.a > 1", "metrics.a" + " + 1" * 5000 + " > 1"):
        with pytest.raises(QuerySyntaxError, match="nested deeper"):
            parse(text)
    parse("(" * 50 + "metrics.a" + ")" * 50 + " * 2 > 1")


def test_fields_of_lists_the_run_side_only() -> None:
    node = parse("metrics.acc - baseline.metrics.acc > params.lr * 0", baseline=True)
    assert fields_of(node) == [ACC, Field("params", "lr")]


def test_evaluation_with_a_baseline() -> None:
    run = to_row(_run(0, params={"lr": "0.5", "opt": "adam"}, metrics={"acc": [0.8, 0.1, 0.9, 3]}))
    base = to_row(_run(1, params={"lr": 0.5, "opt": "adam"}, metrics={"acc": [0.85, 0.1, 0.9, 3]}))

    def holds(text: str) -> bool:
        return compile_filter(parse(text, baseline=True), baseline=base)(run)

    assert holds("metrics.acc >= baseline.metrics.acc - 0.1")
    assert not holds("metrics.acc >= baseline.metrics.acc - 0.01")
    assert holds("params.lr = baseline.params.lr and params.opt = baseline.params.opt")
    assert holds("params.lr * 2 = 1")  # numeric text takes part in arithmetic
    assert holds("duration < baseline.duration + '1m'")  # durations read as seconds
    assert holds("baseline.duration < '2h'")
    assert not holds("metrics.acc / (baseline.metrics.acc - 0.85) > 0")  # division by zero
    assert not holds("metrics.missing - 1 < 0") and holds("not metrics.missing - 1 < 0")
    with pytest.raises(InvalidInputError, match="no baseline"):
        compile_filter(parse("metrics.acc > baseline.metrics.acc", baseline=True))


def _run(index: int, **values: Any) -> dict[str, Any]:
    return {
        "id": f"0000000{index}-0000-7000-8000-000000000000",
        "name": "n",
        "status": "FINISHED",
        "start_time": 1_790_000_000.0,
        "duration": 10.0,
        "params": {},
        "metrics": {},
        "tags": {},
        **values,
    }


# -- generated trees -------------------------------------------------------------------------
_arith_literals = st.sampled_from([0, 1, 2, -1, 0.5, 0.01, "0.5", "1m"])
_leaf_operands: st.SearchStrategy[Operand] = st.one_of(
    st.builds(Ref, fields(), st.booleans()), st.builds(Literal, _arith_literals)
)
operands: st.SearchStrategy[Operand] = st.recursive(
    _leaf_operands,
    lambda inner: (
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/"]), inner, inner)
        | st.builds(Negate, inner)
    ),
    max_leaves=5,
)
_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def _canonical(node: Calc) -> bool:
    """What the parser makes: ``run field <op> literal`` is a Compare, and a comparison
    names a field somewhere; string literals only inside arithmetic or beside a field."""
    left, right = node.left, node.right
    if isinstance(left, Ref) and not left.baseline and isinstance(right, Literal):
        return False
    return bool(refs_of(left) or refs_of(right))


calcs = st.builds(Calc, operands, _ops, operands).filter(_canonical)


@given(calcs)
def test_round_trip(tree: Calc) -> None:
    assert parse(to_text(tree), baseline=True) == tree


# -- the oracle, written apart from the evaluator ---------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", value):
            return float(value)
        match = re.fullmatch(r"\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|min|h|d)?\s*", value.lower())
        if match:
            unit = {None: 1, "ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
            return float(match.group(1)) * unit[match.group(2)]
    return None


def _operand_value(run: dict[str, Any], baseline: dict[str, Any], operand: Operand) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Ref):
        return _oracle_value(baseline if operand.baseline else run, operand.field)
    if isinstance(operand, Negate):
        x = _number(_operand_value(run, baseline, operand.operand))
        return None if x is None else -x
    a = _number(_operand_value(run, baseline, operand.left))
    b = _number(_operand_value(run, baseline, operand.right))
    if a is None or b is None or (operand.op == "/" and b == 0):
        return None
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[operand.op]


_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def full_oracle(run: dict[str, Any], baseline: dict[str, Any], node: Node) -> bool:
    if isinstance(node, And):
        return full_oracle(run, baseline, node.left) and full_oracle(run, baseline, node.right)
    if isinstance(node, Or):
        return full_oracle(run, baseline, node.left) or full_oracle(run, baseline, node.right)
    if isinstance(node, Not):
        return not full_oracle(run, baseline, node.operand)
    if not isinstance(node, Calc):
        return oracle(run, node)
    left = _operand_value(run, baseline, node.left)
    right = _operand_value(run, baseline, node.right)
    if isinstance(node.left, Literal) and isinstance(node.right, Ref):
        return _oracle_compare(_FLIP[node.op], right, left)
    if right is None and not isinstance(node.right, Literal):
        return False
    return _oracle_compare(node.op, left, right)


def _calc_fields() -> st.SearchStrategy[Field]:
    from test_query_eval import _fields

    return _fields


_eval_operands: st.SearchStrategy[Operand] = st.recursive(
    st.one_of(st.builds(Ref, _calc_fields(), st.booleans()), st.builds(Literal, _arith_literals)),
    lambda inner: (
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/"]), inner, inner)
        | st.builds(Negate, inner)
    ),
    max_leaves=4,
)
_eval_calcs = st.builds(Calc, _eval_operands, _ops, _eval_operands).filter(_canonical)
mixed_filters = st.recursive(
    st.one_of(filters, _eval_calcs),
    lambda inner: (
        st.builds(And, inner, inner) | st.builds(Or, inner, inner) | st.builds(Not, inner)
    ),
    max_leaves=4,
)
generated_runs = st.lists(st.integers(), min_size=2, max_size=8).flatmap(
    lambda xs: st.tuples(*[runs(i) for i in range(len(xs))])
)


@settings(max_examples=300)
@given(generated_runs, mixed_filters)
def test_filter_matches_brute_force(generated: tuple[dict[str, Any], ...], tree: Node) -> None:
    baseline = generated[0]
    predicate = compile_filter(parse(to_text(tree), baseline=True), baseline=to_row(baseline))
    for run in generated:
        assert predicate(to_row(run)) == full_oracle(run, baseline, tree), to_text(tree)


@settings(max_examples=200)
@given(generated_runs, mixed_filters)
def test_prefilter_never_drops_a_match(generated: tuple[dict[str, Any], ...], tree: Node) -> None:
    db = cache._connect(None)
    cache._write(db, [to_row(run) for run in generated], [])
    kept = cache._select(db, prefilter(tree))
    predicate = compile_filter(tree, baseline=to_row(generated[0]))
    for run in generated:
        row = to_row(run)
        if predicate(row):
            assert row.ref in kept, to_text(tree)
