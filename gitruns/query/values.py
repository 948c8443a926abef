"""How run values compare with literals: numbers as numbers, everything else as text.

A param stored as ``0.01`` equals both ``0.01`` and ``"0.01"``; a missing value (a run
without that param or metric) satisfies no comparison, like SQL's NULL.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_NUMERIC_TEXT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*", re.ASCII)
_DURATION_TEXT = re.compile(r"\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|min|h|d)?\s*")
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION_UNITS["d"] = 86400.0
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def as_number(value: Any) -> float | None:
    """A number for numbers and numeric text (``"0.01"``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        # An int a float cannot hold (params may be any size) compares as an infinity
        # here; ``compare`` compares two ints exactly.
        return float(value) if -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT else _inf(value)
    if isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value):
        return float(value)
    return None


_FLOAT_INT_LIMIT = 2**1023


def _inf(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def as_text(value: Any) -> str:
    """The text a value is compared as: ``true``, ``0.01``, ``[1, 2]``, ``adam``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True)


def compare(op: str, value: Any, literal: Any) -> bool:
    """``value <op> literal`` with gitruns' typing rules; False when value is missing."""
    if value is None:
        return False
    if isinstance(value, bool) and isinstance(literal, bool):
        return OPERATORS[op](value, literal)
    if type(value) is int and type(literal) is int:
        return OPERATORS[op](value, literal)  # exact, whatever their size
    left, right = as_number(value), as_number(literal)
    if left is not None and right is not None:
        return OPERATORS[op](left, right)
    return OPERATORS[op](as_text(value), as_text(literal))


def like_matcher(pattern: str, ignore_case: bool) -> Callable[[str], bool]:
    """SQL LIKE: ``%`` is any text, ``_`` any one character; the whole value must match."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    regex = re.compile("".join(parts), flags)
    return lambda text: regex.fullmatch(text) is not None


def parse_time_literal(value: Any) -> float | None:
    """Epoch seconds for ``"2026-11-01"``, ``"2026-11-01T12:00:00Z"`` or a number.

    Dates and times without a zone are UTC. Numbers over 1e11 are read as milliseconds
    (MLflow's timestamps). None when the text is not a date.
    """
    number = as_number(value)
    if number is not None and not isinstance(value, str):
        return number / 1000.0 if abs(number) > 1e11 else number
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_duration_literal(value: Any) -> float | None:
    """Seconds for ``90``, ``"90s"``, ``"5m"``, ``"1.5h"``, ``"2d"``; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION_TEXT.fullmatch(str(value).lower())
    if match is None:
        return None
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
