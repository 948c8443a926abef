"""Server-side downsampling of metric series (gitruns.ui.series)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gitruns
from gitruns.format.layout import parse_metric_csv
from gitruns.ui.series import SeriesCache, parse_columns, pick_indices, read_series


def test_parse_columns_matches_the_reference_parser() -> None:
    raw = b"step,timestamp,value\n0,1000,0.5\n1,1001,nan\n2,1002,-inf\n10,1010,1e-300\n"
    steps, times, values = parse_columns(raw)
    expected = parse_metric_csv(raw)
    assert [int(s) for s in steps] == [r[0] for r in expected]
    assert [int(t) for t in times] == [r[1] for r in expected]
    assert [repr(v) for v in values] == [repr(r[2]) for r in expected]


def test_parse_columns_of_an_empty_series_and_a_bad_row() -> None:
    assert parse_columns(b"step,timestamp,value\n") == ([], [], [])
    with pytest.raises(ValueError):
        parse_columns(b"step,timestamp,value\n0,1\n")


def test_short_series_are_kept_whole() -> None:
    assert pick_indices([1.0, 2.0, 3.0], 10) is None


def test_a_single_spike_survives_downsampling() -> None:
    values = [1.0] * 100_000
    values[54_321] = 1000.0
    values[77_777] = -5.0
    keep = pick_indices(values, 500)
    assert keep is not None
    assert len(keep) <= 502
    assert 54_321 in keep and 77_777 in keep
    assert keep[0] == 0 and keep[-1] == len(values) - 1
    assert keep == sorted(set(keep))


@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.sampled_from([math.nan, math.inf, -math.inf]),
        ),
        min_size=1,
        max_size=3000,
    ),
    st.integers(min_value=2, max_value=400),
)
def test_downsampling_keeps_the_extremes_and_gaps(values: list[float], points: int) -> None:
    keep = pick_indices(values, points)
    indices = list(range(len(values))) if keep is None else keep
    kept = [values[i] for i in indices]
    finite = [v for v in values if math.isfinite(v)]
    kept_finite = [v for v in kept if math.isfinite(v)]
    if finite:
        assert min(kept_finite) == min(finite)
        assert max(kept_finite) == max(finite)
    if any(not math.isfinite(v) for v in values):
        assert any(not math.isfinite(v) for v in kept)  # a gap stays a gap
    assert len(indices) <= max(len(values), 2 * (points // 2) * 2 + 2)
    assert indices == sorted(set(indices))


def test_read_series_downsamples_and_cuts_a_range(repo: Path) -> None:
    with gitruns.start_run("long") as run:
        for step in range(5000):
            run.log_metric("x", float(step), step=step)
        for step in (7, 3, 5):  # logged out of order
            run.log_metric("late", float(step), step=step)
        run.log_metric("gap", 1.0, step=0)
        run.log_metric("gap", float("nan"), step=1)
        run.log_metric("gap", 2.0, step=2)
    stored = gitruns.get_run(run.id)
    series = read_series(stored, "x", 200)
    assert series.total == 5000 and len(series.values) <= 202
    assert series.values[0] == 0.0 and series.values[-1] == 4999.0
    assert series.to_dict()["downsampled"] is True
    zoomed = read_series(stored, "x", 200, (1000, 1100))
    assert zoomed.steps[0] == 999 and zoomed.steps[-1] == 1101  # a point beyond each edge
    assert len(zoomed.steps) == 103
    assert read_series(stored, "late").steps == [7, 3, 5]  # as logged: the page sorts by x
    assert read_series(stored, "late", step_range=(0, 10)).steps == [3, 5, 7]
    assert read_series(stored, "gap").values == [1.0, None, 2.0]


def test_the_cache_returns_the_same_series_for_a_recorded_run(repo: Path) -> None:
    with gitruns.start_run("cached") as run:
        run.log_metric("x", 1.0)
    stored = gitruns.get_run(run.id)
    cache = SeriesCache(capacity=1)
    first = cache.get(stored, "x")
    assert cache.get(stored, "x") is first
    with gitruns.start_run("other") as other:
        other.log_metric("x", 2.0)
    cache.get(gitruns.get_run(other.id), "x")
    assert cache.get(stored, "x") is not first  # evicted: capacity 1
