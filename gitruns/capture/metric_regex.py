"""Metrics from printed lines: ``record --metric-regex 'valid loss (?P<val_loss>[0-9.]+)'``.

As in Guild AI, each named group of a pattern is a metric key and the text it matched the
value; a group named ``step`` gives the step of the values on that line (else each key's
last step + 1). Lines of stdout and stderr are matched as the command prints them (so the
points carry the time they were printed), after ANSI colour codes are removed; a line is
ended by ``\\n`` or ``\\r`` (progress bars). Each pattern is searched once per line; a
value that is not a number is skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from gitruns.errors import InvalidInputError
from gitruns.format.validation import check_metric_key

Emit = Callable[[str, float, int | None], None]  # key, value, step
MAX_LINE_BYTES = 64 * 1024  # longer "lines" (binary output) are matched in pieces
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_LINE_END = re.compile(rb"[\r\n]")


def compile_patterns(texts: Iterable[str]) -> list[re.Pattern[str]]:
    """Compile ``--metric-regex`` patterns; each needs at least one named value group.

    Raises:
        InvalidInputError: a pattern does not compile, or names no metric.
    """
    patterns = []
    for text in texts:
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise InvalidInputError(
                f"--metric-regex {text!r} is not a valid regular expression ({exc})",
                "fix the pattern; e.g. 'valid loss (?P<val_loss>[0-9.]+)'",
            ) from exc
        names = [name for name in pattern.groupindex if name != "step"]
        if not names:
            raise InvalidInputError(
                f"--metric-regex {text!r} has no named group to take a metric from",
                "name each value, e.g. 'loss (?P<loss>[0-9.]+)'",
            )
        for name in names:
            check_metric_key(name)
        patterns.append(pattern)
    return patterns


class LineMetrics:
    """Feed it the bytes a stream carries; it emits a point for each match."""

    def __init__(self, patterns: list[re.Pattern[str]], emit: Emit) -> None:
        self._patterns = patterns
        self._emit = emit
        self._partial = b""
        self._lock = threading.Lock()
        self.matched: dict[str, str] = {}  # key -> the pattern it came from
        self.last_error: Exception | None = None

    def feed(self, data: bytes) -> None:
        """Never raises: this runs in the thread that carries the command's output."""
        with self._lock:
            try:
                self._feed(data)
            except Exception as exc:  # a full disk must not stop the output
                self.last_error = exc

    def close(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, b""
            try:
                self._line(rest)
            except Exception as exc:
                self.last_error = exc

    def _feed(self, data: bytes) -> None:
        lines = _LINE_END.split(self._partial + data)
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._line(line)

    def _line(self, raw: bytes) -> None:
        if not raw:
            return
        text = _ANSI.sub("", raw.decode("utf-8", "replace"))
        for pattern in self._patterns:
            match = pattern.search(text)
            if match is None:
                continue
            values = match.groupdict()
            step = _step(values.pop("step", None))
            for key, found in values.items():
                value = _float(found)
                if value is not None:
                    self._emit(key, value, step)
                    self.matched.setdefault(key, pattern.pattern)


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _step(text: str | None) -> int | None:
    value = _float(text)
    if value is None or value != value or value < 0 or value == float("inf"):
        return None
    return int(value)
