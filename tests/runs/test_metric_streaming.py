"""Reading a metric never holds the whole series: ``show``'s sparkline, ``plot`` and
``metrics`` stream it from git (``git cat-file`` for big blobs). Memory is checked with
tracemalloc, which counts every Python allocation exactly (no timing, no machine noise)."""

from __future__ import annotations

import json
import math
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, gitruns_cli

import gitruns
from gitruns.display.plot import series_from
from gitruns.display.sampling import BucketMeans, EvenSample
from gitruns.display.show import sampled_sparkline
from gitruns.format import layout
from gitruns.format.loose_objects import LooseObjectError, stream_loose_blob
from gitruns.query.resolve import find_run
from gitruns.recording.repository import open_store
from gitruns.runs.model import Run
from gitruns.storage import STREAM_MIN_BYTES

LONG = 250_000  # about 10 MiB of CSV: over STREAM_MIN_BYTES, so it streams


def _value(i: int) -> float:
    return math.nan if i % 1000 == 7 else 1.0 / (1 + i) + 0.001 * math.sin(i)


@pytest.fixture
def long_run(repo: Path) -> Run:
    with gitruns.start_run("long") as run:
        for i in range(LONG):
            run.log_metric("loss", _value(i), step=i)
    return find_run(open_store(repo), run.id)


def _peak(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_reading_a_long_series_holds_a_bounded_part_of_it(long_run: Run) -> None:
    size = sum(len(c) for c in long_run.metric_chunks("loss"))
    assert size > 2 * STREAM_MIN_BYTES
    budget = 3 * 2**20  # a chunk of 256 KiB, its lines, and a few thousand kept points
    peaks = [
        _peak(lambda: sum(1 for _ in long_run.metric_rows("loss"))),
        _peak(lambda: sampled_sparkline(long_run, "loss")),
        _peak(lambda: series_from("x", long_run.metric_rows("loss"))),
    ]
    assert max(peaks) < budget


@pytest.mark.slow
def test_streamed_results_match_the_whole_series(long_run: Run, repo: Path) -> None:
    rows = list(long_run.metric_rows("loss"))
    assert len(rows) == LONG and rows[10] == (10, rows[10][1], _value(10))
    whole = layout.parse_metric_csv(b"".join(long_run.metric_chunks("loss")))
    assert repr(rows) == repr(whole)
    series = series_from("x", iter(rows))
    assert 2048 <= len(series.points) <= 4096 and series.last == _value(LONG - 1)
    assert series_from("x", iter(rows), x_axis="time").points[0][0] < 1.0
    assert series.points[0][0] < 300 and series.points[-1][0] > LONG - 300
    spark = sampled_sparkline(long_run, "loss")
    assert len(spark) == 20 and spark[0] == "█" and spark[-1] == "▁"
    result = gitruns_cli(repo, "metrics", "long", "loss", "--format", "csv")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == LONG + 1


def test_short_series_keep_their_exact_output(repo: Path) -> None:
    values = [1.0, math.nan, math.inf, 0.25, -2.0]
    with gitruns.start_run("short") as run:
        for step, value in enumerate(values):
            run.log_metric("loss", value, step=step * 10)
    data = json.loads(gitruns_cli(repo, "metrics", "short", "loss", "--format", "json").stdout)
    loaded = gitruns.get_run(run.id)
    expected = [
        {"step": p.step, "timestamp": p.timestamp, "value": p.value}
        for p in loaded.metric_history("loss")
    ]
    streamed = gitruns_cli(repo, "metrics", "short", "loss", "--format", "json").stdout
    assert streamed == json.dumps(layout.json_safe(expected), indent=1) + "\n"
    assert [d["value"] for d in data] == [1.0, "NaN", "Infinity", 0.25, -2.0]
    series = series_from("x", loaded.metric_rows("loss"))
    assert [x for x, _ in series.points] == [0, 10, 20, 30, 40] and series.last == -2.0
    with gitruns.start_run("empty") as empty:
        empty.log_metric("other", 1.0)
    # A key with no file is a clear error before any output; an empty series is "[]".
    missing = gitruns_cli(repo, "metrics", "empty", "loss", "--format", "json")
    assert missing.returncode == 1 and missing.stdout == "" and "no metric 'loss'" in missing.stderr


def test_even_sample_keeps_evenly_spaced_items() -> None:
    sample: EvenSample[int] = EvenSample(4)
    for i in range(100):
        sample.add(i)
    assert sample.items == list(range(0, 100, 16))
    batched: EvenSample[int] = EvenSample(4)
    for start in range(0, 100, 7):
        batched.extend(list(range(start, min(start + 7, 100))))
    assert batched.items == sample.items


def test_bucket_means_merge_neighbours_and_skip_nan() -> None:
    means = BucketMeans(2)
    for x in range(4):
        means.add(x, float(x))
    assert means.points() == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]
    means.add(4, math.nan)
    assert means.points() == [(0.5, 0.5), (2.5, 2.5), (4.0, math.nan)] or (
        means.points()[:2] == [(0.5, 0.5), (2.5, 2.5)] and math.isnan(means.points()[2][1])
    )


def test_loose_blobs_stream_and_corrupt_ones_are_refused(tmp_path: Path) -> None:
    content = b"step,timestamp,value\n" + b"".join(b"%d,%d,0.5\n" % (i, i) for i in range(50_000))
    path = tmp_path / "loose"
    path.write_bytes(zlib.compress(b"blob %d\0" % len(content) + content))
    chunks = list(stream_loose_blob(path.open("rb"), len(content), 4096))
    assert b"".join(chunks) == content and max(len(c) for c in chunks) <= 4096
    for header, body in (
        (b"blob %d\0" % (len(content) - 1), content),  # longer than it says
        (b"blob %d\0" % (len(content) + 1), content),  # shorter
        (b"tree %d\0" % len(content), content),
        (b"blob 1000000", b""),  # no end of header
    ):
        path.write_bytes(zlib.compress(header + body))
        with pytest.raises(LooseObjectError):
            b"".join(stream_loose_blob(path.open("rb"), len(content), 4096))
    path.write_bytes(b"not zlib at all")
    with pytest.raises(LooseObjectError):
        list(stream_loose_blob(path.open("rb"), 10, 4096))
    # A "zip bomb": 100 MiB of zeros in 100 KiB; chunks stay bounded all the same.
    bomb = zlib.compress(b"blob %d\0" % (100 << 20) + bytes(100 << 20), 9)
    path.write_bytes(bomb)
    assert max(len(c) for c in stream_loose_blob(path.open("rb"), 100 << 20, 65536)) <= 65536


@pytest.mark.slow
def test_packed_and_loose_big_blobs_read_the_same(long_run: Run, repo: Path) -> None:
    loose = b"".join(long_run.metric_chunks("loss"))
    git(repo, "gc", "-q")  # packs the blob: now read through git cat-file
    store = open_store(repo)
    blob = git(repo, "rev-parse", f"{long_run.commit}:metrics/loss.csv").strip()
    assert not (store.common_dir / "objects" / blob[:2] / blob[2:]).exists()
    packed = b"".join(find_run(store, long_run.id).metric_chunks("loss"))
    assert packed == loose and len(loose) > STREAM_MIN_BYTES
