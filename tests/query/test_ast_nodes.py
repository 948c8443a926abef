"""The filter syntax tree's nodes behave as the frozen dataclasses they replaced: the parser,
the evaluator and the SQL pre-filter compare, hash and print them."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError

import pytest

from gitruns.query import parse
from gitruns.query.ast import (
    And,
    Arith,
    Calc,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Literal,
    Negate,
    Not,
    Or,
    Ref,
    fields_of,
    to_text,
)

LR = Field("params", "lr")


def test_equal_by_class_and_fields() -> None:
    assert Field("params", "lr") == Field("params", "lr", None, False) == LR
    assert Field("params", "lr", exact=True) != LR
    assert Compare(LR, ">", 0.5) == Compare(Field("params", "lr"), ">", 0.5)
    assert Not(Compare(LR, "=", 1)) != Negate(Ref(LR))  # never equal across classes
    assert And(Compare(LR, "=", 1), IsNull(LR)) != Or(Compare(LR, "=", 1), IsNull(LR))
    assert Literal(1) == Literal(1.0) == Literal(True)  # as tuples of their fields compare
    assert (LR == "params.lr") is False
    assert LR.__eq__("params.lr") is NotImplemented


def test_hash_follows_equality() -> None:
    tree = parse("params.lr > 0.5 and not metrics.acc.max in (1, 2)")
    assert hash(tree) == hash(parse("params.lr > 0.5 and not metrics.acc.max in (1, 2)"))
    assert {LR: "x"}[Field("params", "lr")] == "x"
    assert hash(Literal(1)) == hash((1,))  # a dataclass hashed the tuple of its fields


def test_repr_names_every_field() -> None:
    assert repr(LR) == "Field(namespace='params', key='lr', agg=None, exact=False)"
    node = In(LR, (1, "a"), negated=True)
    assert repr(node) == f"In(field={LR!r}, values=(1, 'a'), negated=True)"
    assert repr(Like(LR, "x%", True)) == (
        f"Like(field={LR!r}, pattern='x%', ignore_case=True, negated=False)"
    )
    calc = Calc(Arith("-", Ref(LR, baseline=True), Literal(1)), "<", Negate(Literal(2)))
    assert repr(calc) == (
        f"Calc(left=Arith(op='-', left=Ref(field={LR!r}, baseline=True), "
        "right=Literal(value=1)), op='<', right=Negate(operand=Literal(value=2)))"
    )


def test_frozen_and_slotted() -> None:
    with pytest.raises(FrozenInstanceError):
        LR.key = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del LR.key  # type: ignore[misc]
    assert not hasattr(LR, "__dict__")
    with pytest.raises(TypeError):
        Field("params")  # type: ignore[call-arg]


def test_copied_and_pickled_whole() -> None:
    tree = parse('params.lr > 0.5 or (tags.team like "a%" and metrics.`x.min` is null)')
    assert pickle.loads(pickle.dumps(tree)) == tree
    assert copy.deepcopy(tree) == tree
    assert copy.copy(LR) == LR
    assert parse(to_text(tree)) == tree
    assert fields_of(tree) == [LR, Field("tags", "team"), Field("metrics", "x.min", exact=True)]
