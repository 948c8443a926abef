"""Bounded summaries of a stream of unknown length, for drawing long metric series in
constant memory (``show``'s sparklines, ``plot``). Pure: numbers in, numbers out.

Both keep between ``size`` and ``2 * size`` items, evenly spread over the whole stream:
when ``2 * size`` are held, neighbours are merged and every later item stands for twice
as many points as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Generic, TypeVar

_T = TypeVar("_T")


class EvenSample(Generic[_T]):
    """Every ``stride``-th item of the stream, the stride doubling as the stream grows."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stride = 1
        self.seen = 0
        self.items: list[_T] = []

    def add(self, item: _T) -> None:
        self.extend([item])

    def extend(self, items: Sequence[_T]) -> None:
        """Add many items at once, by slicing (a million lines cost milliseconds)."""
        index = -self.seen % self.stride  # the first item at a multiple of the stride
        while index < len(items):
            room = 2 * self.size - len(self.items)
            taken = items[index : index + room * self.stride : self.stride]
            self.items.extend(taken)
            index += len(taken) * self.stride
            if len(self.items) >= 2 * self.size:
                self.items = self.items[::2]  # positions 0, 2s, 4s...: multiples of 2s
                self.stride *= 2
                index += -(self.seen + index) % self.stride
        self.seen += len(items)


class BucketMeans:
    """Means of runs of consecutive ``(x, y)`` points, each run ``width`` points long:
    x over every point, y over the finite ones (NaN for a run with none), so a spike is
    softened but never invented (as ``plot.downsample``). A series of at most
    ``2 * size`` points comes back exactly."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.width = 1
        # Per bucket: [sum of x, points, sum of finite y, finite points]
        self.buckets: list[list[float]] = []

    def add(self, x: float, y: float) -> None:
        if not self.buckets or self.buckets[-1][1] >= self.width:
            if len(self.buckets) >= 2 * self.size:
                self._halve()
            if not self.buckets or self.buckets[-1][1] >= self.width:
                self.buckets.append([0.0, 0, 0.0, 0])
        bucket = self.buckets[-1]
        bucket[0] += x
        bucket[1] += 1
        if math.isfinite(y):
            bucket[2] += y
            bucket[3] += 1

    def _halve(self) -> None:
        merged = []
        for i in range(0, len(self.buckets), 2):
            pair = self.buckets[i : i + 2]
            merged.append([sum(b[k] for b in pair) for k in range(4)])
        self.buckets = merged
        self.width *= 2

    def points(self) -> list[tuple[float, float]]:
        return [(b[0] / b[1], b[2] / b[3] if b[3] else math.nan) for b in self.buckets if b[1]]
