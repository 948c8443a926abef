"""Input at the edges: filters long or deep enough to break a recursive reader, timestamps
that are not numbers a clock can give, and a run started again after ``ActiveRun.end()``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _sharing_helpers import make_run
from conftest import gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.query import QuerySyntaxError, compile_filter, parse, to_text
from gitruns.query.ast import fields_of
from gitruns.query.sql import prefilter

FLAT_TERMS = 1_000
NESTED = 500


def _flat(word: str, count: int) -> str:
    return f" {word} ".join(f"params.p{i} = {i}" for i in range(count))


@pytest.mark.parametrize("word", ["and", "or"])
def test_a_flat_chain_of_a_thousand_terms_parses_and_evaluates(word: str) -> None:
    tree = parse(_flat(word, FLAT_TERMS))
    assert len(fields_of(tree)) == FLAT_TERMS
    assert parse(to_text(tree)) == tree
    prefilter(tree)  # the SQL pre-filter walks the tree too

    class Row:
        def __init__(self) -> None:
            self.params = {f"p{i}": i for i in range(FLAT_TERMS)}
            self.metrics: dict[str, list[float]] = {}
            self.tags: dict[str, str] = {}

        def attribute(self, name: str) -> None:
            return None

    assert compile_filter(tree)(Row()) is True


def test_deep_nesting_is_a_clean_syntax_error() -> None:
    text = "(" * NESTED + "params.a = 1" + ")" * NESTED
    with pytest.raises(QuerySyntaxError, match="nested deeper than"):
        parse(text)
    with pytest.raises(QuerySyntaxError, match="nested deeper than"):
        parse("not " * NESTED + "params.a = 1")


def test_moderate_nesting_still_works() -> None:
    text = "(" * 50 + "params.a = 1" + ")" * 50
    assert parse(text) == parse("params.a = 1")


def test_search_runs_and_ls_take_long_filters(repo: Path) -> None:
    make_run(repo, "one")
    long_filter = _flat("and", FLAT_TERMS).replace("params.p0 = 0", "params.lr = 0.01")
    long_filter = long_filter.replace(" and params.p1 = 1", "")
    long_filter = " or ".join(["params.lr = 0.01", "(" + long_filter + ")"])
    assert [r.name for r in gitruns.search_runs(long_filter)] == ["one"]
    deep = "(" * NESTED + "params.lr = 0.01" + ")" * NESTED
    with pytest.raises(QuerySyntaxError):
        gitruns.search_runs(deep)
    result = gitruns_cli(repo, "ls", "-f", deep)
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: ") and "nested deeper than" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    result = gitruns_cli(repo, "ls", "-f", long_filter)
    assert result.returncode == 0, result.stderr
    assert "one" in result.stdout


@pytest.mark.parametrize("stamp", [math.nan, math.inf, -math.inf])
def test_non_finite_timestamps_are_refused_clearly(repo: Path, stamp: float) -> None:
    with gitruns.start_run("stamps") as run:
        with pytest.raises(InvalidInputError, match="timestamp"):
            run.log_metric("loss", 1.0, timestamp=stamp)
        run.log_metric("loss", 2.0)
    assert [p.value for p in gitruns.get_run(run.id).metric_history("loss")] == [2.0]


def test_start_run_after_active_run_end(repo: Path) -> None:
    first = gitruns.start_run("first")
    first.end()
    assert gitruns.active_run() is None
    second = gitruns.start_run("second")
    second.log_metric("loss", 1.0)
    second.end("FAILED")
    assert gitruns.active_run() is None
    with gitruns.start_run("third") as third:
        pass
    assert [gitruns.get_run(r.id).status for r in (first, second, third)] == [
        "FINISHED",
        "FAILED",
        "FINISHED",
    ]
