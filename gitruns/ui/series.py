"""Metric series for charts: read fast from the run's CSV and cut down on the server.

A chart is a few hundred pixels wide, so sending 100,000 points of each of 100 metrics to
the browser would only cost time. Each series is cut into buckets and keeps, per bucket,
the points holding its lowest and highest value (min/max decimation): spikes and dips
survive, which an average or every-Nth-point would hide. NaN and infinities are kept as
gaps (``None``), never as a min or a max.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from gitruns.errors import InvalidRunError
from gitruns.format import layout
from gitruns.format.layout import MAX_METRIC_BYTES
from gitruns.runs.model import Run

DEFAULT_POINTS = 1000
MAX_POINTS = 20_000


@dataclass
class Series:
    """One metric, possibly downsampled: steps, timestamps (ms) and values in step order."""

    key: str
    steps: list[int]
    times: list[int]
    values: list[float | None]
    total: int  # points in the full series (before downsampling and range cuts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "step": self.steps,
            "time": self.times,
            "value": self.values,
            "total": self.total,
            "downsampled": len(self.values) < self.total,
        }


def parse_columns(raw: bytes) -> tuple[list[bytes], list[bytes], list[float]]:
    """``step,timestamp,value`` CSV as three columns (C-speed splitting: no per-line loop).

    Steps and timestamps stay text: only the few a chart keeps are converted (``int``).
    The rows are those ``layout.parse_metric_csv`` reads: the first line is the header,
    empty lines are skipped, and every other line must hold three fields (counted line by
    line: a short row next to a long one is not one row of three)."""
    body = raw[raw.find(b"\n") + 1 :] if b"\n" in raw else b""
    if b"\n\n" in body or body.startswith(b"\n"):
        body = b"\n".join(line for line in body.split(b"\n") if line)
    elif body.endswith(b"\n"):
        body = body[:-1]
    if not body:
        return [], [], []
    # The commas and line ends alone, in C: two commas a row, a line end between rows.
    rows = body.count(b"\n") + 1
    if body.translate(None, _NOT_SEPARATORS) != (b",,\n" * rows)[:-1]:
        raise ValueError("a row does not have three fields")
    tokens = body.replace(b"\n", b",").split(b",")
    return tokens[0::3], tokens[1::3], list(map(float, tokens[2::3]))


_NOT_SEPARATORS = bytes(byte for byte in range(256) if byte not in b",\n")


def read_series(
    run: Run,
    key: str,
    points: int = DEFAULT_POINTS,
    step_range: tuple[float | None, float | None] = (None, None),
) -> Series:
    """Metric ``key`` of ``run``, at most about ``points`` points, in logged order (the
    page sorts by x; runs log steps in order but need not).

    ``step_range`` keeps only steps within (low, high), for a chart zoomed into a part of a
    long series; the series is then put in step order first.
    """
    steps: list[Any]
    times: list[Any]
    raw = run.file(layout.metric_path(key), MAX_METRIC_BYTES)
    if raw is None:  # no CSV in the tree: a live run read through the library
        history = run.metric_history(key)
        steps = [p.step for p in history]
        times = [p.timestamp for p in history]
        values = [p.value for p in history]
    else:
        try:
            steps, times, values = parse_columns(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRunError(
                f"metrics/{key}.csv of run {run.id} is malformed ({exc})", "repair or remove it"
            ) from exc
    total = len(values)
    try:
        if step_range != (None, None):
            steps = [int(s) for s in steps]
            steps, times, values = _in_step_order(steps, times, values)
            steps, times, values = _in_range(steps, times, values, step_range)
        keep = pick_indices(values, max(2, min(points, MAX_POINTS)))
        if keep is not None:
            steps = [steps[i] for i in keep]
            times = [times[i] for i in keep]
            values = [values[i] for i in keep]
        kept_steps, kept_times = [int(s) for s in steps], [int(t) for t in times]
    except ValueError as exc:
        raise InvalidRunError(
            f"metrics/{key}.csv of run {run.id} is malformed ({exc})", "repair or remove it"
        ) from exc
    shown: list[float | None] = [v if math.isfinite(v) else None for v in values]
    return Series(key, kept_steps, kept_times, shown, total)


def _in_step_order(
    steps: list[int], times: list[Any], values: list[float]
) -> tuple[list[int], list[Any], list[float]]:
    """Steps ascending (stably), as a range cut needs."""
    if all(a <= b for a, b in itertools.pairwise(steps)):
        return steps, times, values
    order = sorted(range(len(steps)), key=steps.__getitem__)
    return [steps[i] for i in order], [times[i] for i in order], [values[i] for i in order]


def _in_range(
    steps: list[int],
    times: list[Any],
    values: list[float],
    step_range: tuple[float | None, float | None],
) -> tuple[list[int], list[Any], list[float]]:
    low, high = step_range
    if low is None and high is None:
        return steps, times, values
    import bisect

    start = 0 if low is None else bisect.bisect_left(steps, low)
    end = len(steps) if high is None else bisect.bisect_right(steps, high)
    # one point either side, so that the zoomed line runs to the chart's edges
    start, end = max(start - 1, 0), min(end + 1, len(steps))
    return steps[start:end], times[start:end], values[start:end]


def pick_indices(values: list[float], points: int) -> list[int] | None:
    """Indices to keep so that about ``points`` remain (None: keep everything).

    Per bucket: the lowest and the highest finite value, in their original order, and the
    first non-finite value (shown as a gap); the first and last points always stay.
    """
    count = len(values)
    if count <= points:
        return None
    buckets = max(1, points // 2)
    finite = math.isfinite(sum(values))  # one C-speed pass; NaN or inf anywhere spoils it
    keep = {0, count - 1}
    for bucket in range(buckets):
        low, high = bucket * count // buckets, (bucket + 1) * count // buckets
        if low >= high:
            continue
        part = values[low:high]
        if finite:
            keep.add(low + part.index(min(part)))
            keep.add(low + part.index(max(part)))
        else:
            keep.update(_finite_extremes(part, low))
    return sorted(keep)


def _finite_extremes(part: list[float], offset: int) -> list[int]:
    drawable = [i for i, v in enumerate(part) if math.isfinite(v)]
    found = [offset + i for i, v in enumerate(part) if not math.isfinite(v)][:1]
    if drawable:
        found.append(offset + min(drawable, key=part.__getitem__))
        found.append(offset + max(drawable, key=part.__getitem__))
    return found


class SeriesCache:
    """Downsampled series of recorded runs, kept by (commit, key, request): a run commit
    never changes, so an entry never goes stale. Live runs are not cached."""

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[Any, ...], Series] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        run: Run,
        key: str,
        points: int = DEFAULT_POINTS,
        step_range: tuple[float | None, float | None] = (None, None),
    ) -> Series:
        if run.status == "RUNNING":
            return read_series(run, key, points, step_range)
        entry = (run.commit, key, points, step_range)
        with self._lock:
            found = self._entries.get(entry)
            if found is not None:
                self._entries.move_to_end(entry)
                return found
        series = read_series(run, key, points, step_range)
        with self._lock:
            self._entries[entry] = series
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return series
