"""Metrics drawn as text: one-line sparklines and multi-run charts (braille or markers).

Pure functions over numbers; no terminal access. Colours, when asked for, are plain ANSI
escape codes so that the CLI decides whether to use them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gitruns.display.safe_text import printable
from gitruns.display.sampling import BucketMeans

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
MARKERS = "*o+x#@%&"
_COLOURS = (34, 31, 32, 33, 35, 36, 94, 91)
# A chart is at most a few hundred dot columns wide: this many bucket means per series
# (up to twice as many) draw the same picture as every point of a long series.
MAX_SERIES_POINTS = 2048
# Braille dot bits by (column, row) within a 2x4 cell (Unicode U+2800 block).
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def downsample(values: Sequence[float], width: int) -> list[float]:
    """At most ``width`` values: the mean of the finite values of each equal bucket
    (NaN where a bucket holds none), so a spike is softened but never invented."""
    if len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        bucket = values[i * len(values) // width : (i + 1) * len(values) // width]
        finite = [v for v in bucket if math.isfinite(v)]
        out.append(sum(finite) / len(finite) if finite else math.nan)
    return out


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """``▁▂▄▇█``-style line; non-finite values become a blank."""
    sampled = downsample(values, width)
    finite = [v for v in sampled if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    chars = []
    for value in sampled:
        if not math.isfinite(value):
            chars.append(" ")
        elif span == 0:
            chars.append(SPARK_BLOCKS[len(SPARK_BLOCKS) // 2])
        else:
            chars.append(SPARK_BLOCKS[round((value - low) / span * (len(SPARK_BLOCKS) - 1))])
    return "".join(chars)


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, y), x ascending
    last: float | None = None  # the last finite y, when ``points`` are bucket means


def series_from(
    label: str,
    rows: Iterable[tuple[int, int, float]],
    x_axis: str = "step",
    max_points: int = MAX_SERIES_POINTS,
) -> Series:
    """A series from ``(step, timestamp ms, value)`` rows streamed in logged order, with
    at most ``2 * max_points`` points (bucket means), so a plot of any length draws in
    constant memory. x is the step, or (``x_axis="time"``) seconds since the first point."""
    means = BucketMeans(max_points)
    start: int | None = None
    last: float | None = None
    for step, stamp, value in rows:
        if start is None:
            start = stamp
        means.add(step if x_axis == "step" else (stamp - start) / 1000, value)
        if math.isfinite(value):
            last = value
    return Series(label, means.points(), last)


@dataclass
class _Frame:
    x_low: float
    x_high: float
    y_low: float
    y_high: float


def chart(
    series: Sequence[Series],
    *,
    width: int = 80,
    height: int = 16,
    log_y: bool = False,
    braille: bool = True,
    colour: bool = False,
    x_label: str = "step",
) -> str:
    """A chart of several series with y min/max labels, x range and a legend."""
    prepared = [Series(s.label, _usable(s.points, log_y)) for s in series]
    frame = _frame(prepared)
    if frame is None:
        return "(no finite values to plot)\n"
    labels = [_axis_number(frame.y_high, log_y), _axis_number(frame.y_low, log_y)]
    gutter = max(len(t) for t in labels)
    columns = max(width - gutter - 2, 10)
    grid = _Grid(columns, max(height, 2), 2 if braille else 1, 4 if braille else 1)
    for index, one in enumerate(prepared):
        grid.draw(one.points, frame, index, lines=braille)
    rows = grid.render(colour, braille)
    lines = []
    for number, row in enumerate(rows):
        label = labels[0] if number == 0 else labels[1] if number == len(rows) - 1 else ""
        lines.append(f"{label:>{gutter}} ┤{row}")
    x_low, x_high = _axis_number(frame.x_low, False), _axis_number(frame.x_high, False)
    lines.append(" " * gutter + " └" + "─" * columns)
    axis = f"{x_low}{x_label:^{max(columns - len(x_low) - len(x_high), 1)}}{x_high}"
    lines.append(" " * (gutter + 2) + axis)
    lines += _legend(series, braille, colour, log_y)
    return "\n".join(lines) + "\n"


def _usable(points: list[tuple[float, float]], log_y: bool) -> list[tuple[float, float]]:
    kept = []
    for x, y in points:
        if log_y:
            y = math.log10(y) if y > 0 and math.isfinite(y) else math.nan
        kept.append((x, y))
    return [(x, y) for x, y in kept if math.isfinite(y) and math.isfinite(x)]


def _frame(series: Sequence[Series]) -> _Frame | None:
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not ys:
        return None
    frame = _Frame(min(xs), max(xs), min(ys), max(ys))
    if frame.x_high == frame.x_low:
        frame.x_high = frame.x_low + 1
    if frame.y_high == frame.y_low:
        pad = abs(frame.y_low) * 0.05 or 1.0
        frame.y_low, frame.y_high = frame.y_low - pad, frame.y_high + pad
    return frame


def _axis_number(value: float, log_y: bool) -> str:
    return f"{10**value:.4g}" if log_y else f"{value:.4g}"


class _Grid:
    """A canvas of cells, each ``dx`` by ``dy`` dots; a cell remembers its last painter."""

    def __init__(self, columns: int, rows: int, dx: int, dy: int) -> None:
        self.columns, self.rows, self.dx, self.dy = columns, rows, dx, dy
        self.bits = [[0] * columns for _ in range(rows)]
        self.owner = [[-1] * columns for _ in range(rows)]

    def draw(
        self, points: list[tuple[float, float]], frame: _Frame, index: int, lines: bool
    ) -> None:
        width, height = self.columns * self.dx, self.rows * self.dy
        dots = [
            (
                round((x - frame.x_low) / (frame.x_high - frame.x_low) * (width - 1)),
                round((frame.y_high - y) / (frame.y_high - frame.y_low) * (height - 1)),
            )
            for x, y in points
        ]
        dots = _column_means(dots)
        previous = None
        for dot in dots:
            segment = _segment(previous, dot) if lines and previous else [dot]
            for col, row in segment:
                self._set(col, row, index)
            previous = dot

    def _set(self, col: int, row: int, index: int) -> None:
        cell_col, cell_row = col // self.dx, row // self.dy
        if 0 <= cell_col < self.columns and 0 <= cell_row < self.rows:
            bit = _DOTS[col % 2][row % 4] if self.dx == 2 else 1
            self.bits[cell_row][cell_col] |= bit
            self.owner[cell_row][cell_col] = index

    def render(self, colour: bool, braille: bool) -> list[str]:
        rows = []
        for bits, owners in zip(self.bits, self.owner, strict=True):
            cells = []
            for bit, owner in zip(bits, owners, strict=True):
                if not bit:
                    cells.append(" ")
                    continue
                char = chr(0x2800 + bit) if braille else MARKERS[owner % len(MARKERS)]
                cells.append(_paint(char, owner) if colour else char)
            rows.append("".join(cells))
        return rows


def _column_means(dots: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One dot per dot column (the mean row), so a million points draw as fast as a few."""
    merged: list[tuple[int, int]] = []
    total, count = 0, 0
    for index, (col, row) in enumerate(dots):
        total, count = total + row, count + 1
        if index + 1 == len(dots) or dots[index + 1][0] != col:
            merged.append((col, round(total / count)))
            total, count = 0, 0
    return merged


def _segment(start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]]:
    """Dots on the straight line from ``start`` to ``end`` (Bresenham)."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error, found = dx + dy, []
    while True:
        found.append((x0, y0))
        if (x0, y0) == (x1, y1):
            return found
        double = 2 * error
        if double >= dy:
            error, x0 = error + dy, x0 + sx
        if double <= dx:
            error, y0 = error + dx, y0 + sy


def _paint(text: str, index: int) -> str:
    return f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{text}\x1b[0m"


def _legend(series: Sequence[Series], braille: bool, colour: bool, log_y: bool) -> list[str]:
    lines = []
    for index, one in enumerate(series):
        mark = "━━" if braille else MARKERS[index % len(MARKERS)] * 2
        finite = [y for _, y in one.points if math.isfinite(y)]
        final = one.last if one.last is not None else (finite[-1] if finite else None)
        last = f"last {final:.6g}" if final is not None else "no finite values"
        if log_y and not any(y > 0 for y in finite):
            last += ", none > 0 (not drawn on a log scale)"
        label = printable(one.label)  # a run's name: untrusted text, drawn beside our colours
        lines.append(f"  {_paint(mark, index) if colour else mark} {label}  ({last})")
    return lines
