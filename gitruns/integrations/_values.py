"""Framework values made storable: configs hold paths, devices, enums, classes and tensors,
which gitruns' params refuse (they would not round-trip); integrations store their text."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 16
_MAX_TEXT = 1000


def plain(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` made of None, bool, int, float, str, lists and string-keyed
    mappings: numpy and torch scalars as numbers, enums by value, anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > _MAX_DEPTH:
        return _text(value)
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else _text(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        try:
            return plain(item(), depth + 1)
        except (TypeError, ValueError, RuntimeError):
            pass
    return _text(value)


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params with string keys and plain values; empty keys are left out."""
    return {str(k): plain(v) for k, v in params.items() if str(k).strip()}


def metric_value(value: Any) -> float | None:
    """A number a metric can hold (a float, an int, a 0-d tensor or array), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) in (0, None):
        try:
            number = item()
        except (TypeError, ValueError, RuntimeError):
            return None
        if isinstance(number, bool | int | float) and not isinstance(number, complex):
            return float(number)
    return None


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``metrics`` that are numbers (text and arrays are left out)."""
    out = {}
    for key, value in metrics.items():
        number = metric_value(value)
        if number is not None and str(key).strip():
            out[str(key)] = number
    return out


def _text(value: Any) -> str:
    try:
        return str(value)[:_MAX_TEXT]
    except Exception:  # a repr that fails must not fail training
        return f"<{type(value).__name__}>"
