"""The SQL pre-filter keeps every row the Python predicate matches (it may keep more)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_query_eval import filters, oracle, runs, to_row

from gitruns.query import cache, compile_filter, parse
from gitruns.query.ast import Node
from gitruns.query.sql import prefilter

generated_runs = st.lists(st.integers(), min_size=1, max_size=8).flatmap(
    lambda xs: st.tuples(*[runs(i) for i in range(len(xs))])
)


@settings(max_examples=200)
@given(generated_runs, filters)
def test_prefilter_never_drops_a_match(generated: tuple[dict[str, Any], ...], tree: Node) -> None:
    db = cache._connect(None)
    cache._write(db, [to_row(run) for run in generated], [])
    kept = cache._select(db, prefilter(tree))
    predicate = compile_filter(tree)
    for run in generated:
        row = to_row(run)
        if oracle(run, tree):
            assert predicate(row) and row.ref in kept


def test_prefilter_prunes() -> None:
    db = cache._connect(None)
    rows = [
        to_row({**base(i), "params": {"lr": lr}, "metrics": {"acc": [acc, acc, acc, 1]}})
        for i, (lr, acc) in enumerate([(0.01, 0.95), ("0.01", 0.5), (0.1, 0.99), ("adam", 1.0)])
    ]
    cache._write(db, rows, [])
    tree = parse("metrics.acc > 0.9 and params.lr = 0.01 and start_time > '2020-01-01'")
    kept = cache._select(db, prefilter(tree))
    assert [r.run_id[7] for r in kept.values()] == ["0"]
    assert prefilter(parse("params.lr != 1 or metrics.acc > 1")) is None
    assert len(cache._select(db, prefilter(parse("params.lr < 0.05")))) == 3  # 'adam' as text


def base(index: int) -> dict[str, Any]:
    return {
        "id": f"0000000{index}-0000-7000-8000-000000000000",
        "name": "n",
        "status": "FINISHED",
        "start_time": 1_790_000_000.0,
        "duration": 1.0,
        "params": {},
        "metrics": {},
        "tags": {},
    }


def test_prefilter_on_having_a_parent() -> None:
    """``parent is [not] null`` is pushed down through the run_parents table: exact, so the
    rows kept are the rows that match."""
    from _query_helpers import cached_row

    ids = [f"0000000{i}-0000-7000-8000-000000000000" for i in range(4)]
    rows = [
        cached_row(run_id, extras={"parents": [ids[0]] if i % 2 else []})
        for i, run_id in enumerate(ids)
    ]
    db = cache._connect(None)
    cache._write(db, rows, [])
    for text, expected in (("parent is not null", {1, 3}), ("parent is null", {0, 2})):
        tree = parse(text + " and status = 'FINISHED'")
        kept = cache._select(db, prefilter(tree))
        assert {ids.index(r.run_id) for r in kept.values()} == expected
        predicate = compile_filter(tree)
        assert {i for i, row in enumerate(rows) if predicate(row)} == expected


def test_params_that_are_not_finite_numbers_are_still_found_as_text() -> None:
    """A finite number's param has no text column (none is needed); infinities, NaN and
    ints too large for a float keep theirs, and a filter on their text finds them."""
    values = [float("inf"), -float("inf"), float("nan"), 2**2000, 10**20, 0.01, 7, "inf"]
    db = cache._connect(None)
    rows = [to_row({**base(i), "params": {"p": value}}) for i, value in enumerate(values)]
    cache._write(db, rows, [])
    literals = ["'inf'", "'-inf'", "'nan'", "'1e+20'", "100000000000000000000", "0.01", "'7'"]
    for literal in literals:
        for op in ("=", "<", ">="):
            tree = parse(f"params.p {op} {literal}")
            kept = cache._select(db, prefilter(tree))
            matching = [row.ref for row in rows if compile_filter(tree)(row)]
            assert set(matching) <= set(kept), (op, literal)
    assert cache._select(db, prefilter(parse("params.p = 'inf'"))).keys() == {
        rows[0].ref,
        rows[7].ref,
    }
    texts = dict(db.execute("SELECT ref, text FROM param_values"))
    assert [texts[row.ref] for row in rows] == [
        "inf",
        "-inf",
        "nan",
        str(2**2000),
        *[None] * 3,
        "inf",
    ]
