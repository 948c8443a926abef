"""A cold build's write side makes the same rows as the general rules: the index rows of
``_param_rows``/``_metric_rows`` (fast paths for floats, ints and remembered texts) are
``_param_value``/``sql_number``'s, the JSON columns are ``json.dumps(..., sort_keys=True)``
of their values (whatever shortcut made them), and values bound through the adapters
registered for None and bytes are stored as sqlite3 stores them without."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from _compare_helpers import RESOURCES_A, pin_run
from conftest import gitruns_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import gitruns
from gitruns.format import layout
from gitruns.query import cache

_SCALARS = (
    st.floats()
    | st.integers()
    | st.integers(min_value=2**1022, max_value=2**1100)
    | st.integers(min_value=-(2**1100), max_value=-(2**1022))
    | st.booleans()
    | st.none()
    | st.text(max_size=8)
    | st.sampled_from(["0.01", " 1e3 ", "-3", ".5", "1.", "adam", "inf", "nan", "1_000"])
)
_VALUES = _SCALARS | st.lists(_SCALARS, max_size=3) | st.just({}) | st.just([])


def _row(params: dict[str, Any], metrics: dict[str, list[Any]]) -> cache.CachedRun:
    row = cache.CachedRun(("refs/runs/x", "c", "x", "local", None))
    row.indexed = (params, metrics, [])
    return row


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(
        (type(x) is type(y) and (x == y or (isinstance(x, float) and math.isnan(x) and y != y)))
        for x, y in zip(a, b, strict=True)
    )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), _VALUES, max_size=6))
def test_param_rows_are_param_value_s(params: dict[str, Any]) -> None:
    valid = [(_row(params, {}), (params, {}, []))]
    for _ in range(2):  # texts made, then remembered
        numbers, texts = cache._param_rows(valid)
        assert all(len(r) == 3 for r in numbers) and all(r[3] is not None for r in texts)
        made = {r[0]: (*r, None) for r in numbers} | {r[0]: r for r in texts}
        rows = [made[key] for key in params]
        expected = [("k", "refs/runs/x", *cache._param_value(v)) for v in params.values()]
        assert len(rows) == len(expected)
        for key, got, want in zip(params, rows, expected, strict=True):
            assert got[0] == key and _same(got[1:], want[1:]), (key, got, want)


_NUMBERS = st.floats() | st.integers() | st.integers(min_value=2**63 - 2, max_value=2**70)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), st.lists(_NUMBERS, min_size=4, max_size=4)))
def test_metric_rows_are_sql_number_s(metrics: dict[str, list[Any]]) -> None:
    rows = cache._metric_rows([(_row({}, metrics), ({}, metrics, []))])
    expected = [(k, "refs/runs/x", *map(cache.sql_number, s)) for k, s in metrics.items()]
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert _same(got, want), (got, want)


def test_text_params_remembered_are_emptied_when_full(monkeypatch: Any) -> None:
    monkeypatch.setattr(cache, "_TEXT_PARAMS", {})
    monkeypatch.setattr(cache, "_TEXT_PARAMS_KEPT", 3)
    params = {f"p{i}": f"text-{i}" for i in range(7)}
    numbers, texts = cache._param_rows([(_row(params, {}), (params, {}, []))])
    assert numbers == [] and [r[3] for r in texts] == list(params.values())
    assert len(cache._TEXT_PARAMS) <= 3


def test_none_and_bytes_adapters_bind_as_before_and_keep_one_already_there() -> None:
    key = (type(None), sqlite3.PrepareProtocol)
    before = dict(sqlite3.adapters)
    try:
        sqlite3.adapters.pop(key, None)
        sqlite3.adapters.pop((bytes, sqlite3.PrepareProtocol), None)
        cache._bind_none_and_bytes_directly()
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (a, b)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(None, b"\x00\xff"), (b"", None)])
        assert db.execute("SELECT typeof(a), typeof(b), a, b FROM t").fetchall() == [
            ("null", "blob", None, b"\x00\xff"),
            ("blob", "null", b"", None),
        ]
        mine = lambda value: "mine"  # noqa: E731 - registered by someone else
        sqlite3.register_adapter(type(None), mine)
        cache._bind_none_and_bytes_directly()
        assert sqlite3.adapters[key] is mine
    finally:
        sqlite3.adapters.clear()
        sqlite3.adapters.update(before)


def test_json_columns_are_sorted_json_of_their_values(repo: Path) -> None:
    """Runs with and without tags, resources, notes and parents, built cold by the real
    CLI: each JSON column is the sorted JSON of what it decodes to, and the index rows are
    the general rules' (``_param_value`` of the flattened params)."""
    with gitruns.start_run(name="plain", params={"lr": 0.01, "opt": "adam", "n": 3}) as plain:
        plain.log_metric("acc", 0.7759585674357169)
    with gitruns.start_run(
        name="rich",
        params={"model": {"layers": 12, "name": "vit"}, "text_num": "1e-3", "big": 10**30},
        tags={"team": "nlp", "a": "first"},
        parents=[plain.id],
    ) as rich:
        rich.log_metric("loss", float("inf"))
        rich.note("a note")
    pinned = pin_run(
        repo,
        rich.id,
        "01a0c450-0000-7000-8000-00000000abcd",
        start=1.8e9,
        duration=60.0,
        resources=RESOURCES_A,
    )
    assert pinned
    done = gitruns_cli(repo, "ls", "--format", "csv", "-c", "id")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(repo / ".git" / "gitruns" / "cache.sqlite") as db:
        rows = db.execute(
            "SELECT ref, params, metrics, tags, resources, extras, typeof(error),"
            " typeof(record) FROM runs"
        ).fetchall()
        index = db.execute("SELECT key, ref, num, text FROM param_values").fetchall()
    assert len(rows) == 2  # the rich run was rewritten under the pinned id
    for ref, *columns, error_type, record_type in rows:
        assert (error_type, record_type) == ("null", "blob")
        for text in columns:
            assert text == json.dumps(json.loads(text), sort_keys=True), (ref, text)
    resources = {json.loads(r[4]) != {} for r in rows}
    assert resources == {True, False}  # the pinned run's totals, the others' none
    extras = {r[0]: json.loads(r[5]) for r in rows}
    # only the values a run has: no note, no parents, no remote for the plain run
    assert not {"note", "parents", "remote_url"} & extras[f"refs/runs/{plain.id}"].keys()
    pinned_extras = extras["refs/runs/01a0c450-0000-7000-8000-00000000abcd"]
    assert pinned_extras["parents"] == [plain.id] and pinned_extras["note"] == "a note"
    for name in ("note", "parent", "remote_url"):  # a value left out reads as missing
        shown = gitruns_cli(repo, "ls", "--filter", f"attributes.{name} IS NULL", "-c", "name")
        assert shown.returncode == 0 and "plain" in shown.stdout, shown.stderr
        assert ("rich" in shown.stdout) == (name == "remote_url")
    flat = {
        ("refs/runs/" + plain.id): layout.flatten({"lr": 0.01, "opt": "adam", "n": 3}),
        "refs/runs/01a0c450-0000-7000-8000-00000000abcd": layout.flatten(
            {"model": {"layers": 12, "name": "vit"}, "text_num": "1e-3", "big": 10**30}
        ),
    }
    expected = sorted(
        (key, ref, *cache._param_value(value))
        for ref, params in flat.items()
        for key, value in params.items()
    )
    assert sorted(index) == expected
