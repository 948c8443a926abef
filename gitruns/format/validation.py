"""Checks on what users log: keys that become file names, numbers, serialisable params."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from gitruns.errors import InvalidInputError

MAX_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED_SEGMENTS = {"", ".", ".."}
_INT_FLOAT_LIMIT = 2**1023  # ints below this convert to float without OverflowError


def check_metric_key(key: object) -> str:
    """Return ``key`` when it can name a metric file; raise InvalidInputError otherwise.

    A key becomes ``metrics/<key>.csv`` with ``/`` as folders, so anything that could
    escape that folder or confuse git (absolute paths, ``..``, control characters, NUL,
    backslashes, ``.git`` segments) is refused.
    """
    if not isinstance(key, str):
        raise InvalidInputError(
            f"metric key {key!r} is not a string", "use a name such as 'loss' or 'val/acc'"
        )
    _check_path_key(key, "metric key")
    return key


def check_artifact_path(path: str) -> str:
    """Return ``path`` when it can name an artifact: it becomes ``artifacts/<path>`` in the
    run's tree, so the same rules as for metric keys apply."""
    _check_path_key(path, "artifact path")
    return path


def check_name_key(key: object, what: str) -> str:
    """Check a param or tag key: a non-empty string without control characters."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInputError(f"{what} {key!r} is empty or not a string", "use a non-empty name")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{what} '{key[:40]}...' is longer than {MAX_KEY_LENGTH} characters",
            "use a shorter name",
        )
    if _CONTROL.search(key):
        raise InvalidInputError(
            f"{what} {key!r} contains control characters", "use printable characters only"
        )
    _check_utf8(key, what)
    return key


def check_text(text: object, what: str) -> str:
    """Free text (a note): a string without NUL that can be written as UTF-8."""
    if not isinstance(text, str) or "\x00" in text:
        raise InvalidInputError(f"{what} must be text without NUL", "pass a string")
    _check_utf8(text, what)
    return text


def _check_utf8(text: str, what: str) -> None:
    """Refuse lone surrogates (from undecodable bytes): they cannot be written as UTF-8,
    so the run could never be finalised."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{what} {text[:40]!r} is not valid Unicode (it has lone surrogates)",
            "decode bytes properly, or pass text.encode('utf-8', 'replace').decode()",
        ) from None


def _check_path_key(key: str, what: str) -> None:
    hint = "use names like 'loss' or 'train/loss' (letters, digits, '_', '-', '.', '/')"
    if not key:
        raise InvalidInputError(f"{what} is empty", hint)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{what} '{key[:40]}...' is longer than {MAX_KEY_LENGTH} characters", hint
        )
    if _CONTROL.search(key):
        raise InvalidInputError(f"{what} {key!r} contains control characters or NUL", hint)
    _check_utf8(key, what)
    if key.startswith("/") or "\\" in key or (len(key) > 1 and key[1] == ":"):
        raise InvalidInputError(f"{what} {key!r} looks like an absolute path", hint)
    for segment in key.split("/"):
        if segment in _RESERVED_SEGMENTS:
            raise InvalidInputError(f"{what} {key!r} has an empty, '.' or '..' segment", hint)
        if segment.lower() == ".git" or segment != segment.strip():
            raise InvalidInputError(f"{what} {key!r} has a reserved or padded segment", hint)


def to_metric_value(value: object, key: str) -> float:
    """Convert a metric value to float; NaN and infinities are valid values."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is int and -_INT_FLOAT_LIMIT < value < _INT_FLOAT_LIMIT:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, bool | str | bytes) or not hasattr(value, "__float__"):
        raise InvalidInputError(
            f"metric '{key}' value {value!r} is not a number",
            "log an int or float (numpy and torch scalars work too)",
        )
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"metric '{key}' value {str(value)[:40]} is not a number a float can hold",
            "log an int or a float",
        ) from exc


def to_step(step: object, key: str) -> int:
    """Check a step: a non-negative integer."""
    if isinstance(step, bool) or (not isinstance(step, int) and not hasattr(step, "__index__")):
        raise InvalidInputError(f"metric '{key}' step {step!r} is not an integer", "pass step=N")
    result = int(step)
    if result < 0:
        raise InvalidInputError(f"metric '{key}' step {result} is negative", "use steps >= 0")
    return result


def to_param_value(value: Any, key: str) -> Any:
    """Return a plain, serialisable copy of a parameter value.

    Accepted: None, bool, int, float (NaN too), str, and lists/tuples/mappings of those.
    numpy scalars are turned into their Python equivalents. Anything else is refused
    rather than stored as an opaque repr that would not round-trip.
    """
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInputError(f"param '{key}' contains NUL", "remove the NUL character")
            _check_utf8(value, f"param '{key}'")
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for sub_key, sub_value in value.items():
            if not isinstance(sub_key, str):
                raise InvalidInputError(
                    f"param '{key}' has a non-string key {sub_key!r}", "use string keys"
                )
            _check_utf8(sub_key, f"param '{key}' key")
            out[sub_key] = to_param_value(sub_value, f"{key}.{sub_key}")
        return out
    if isinstance(value, list | tuple):
        return [to_param_value(item, f"{key}[{i}]") for i, item in enumerate(value)]
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return to_param_value(item(), key)
    raise InvalidInputError(
        f"param '{key}' has a value of type {type(value).__name__} that cannot be stored",
        "log numbers, strings, booleans, lists or mappings (convert objects with str())",
    )


def same_param_value(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (so re-logging a NaN param is not a conflict)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_param_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_param_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def check_tag_value(value: object, key: str) -> str:
    """Tags are strings (as in MLflow); numbers and booleans are converted with str()."""
    if isinstance(value, bool | int | float):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"tag '{key}' value {value!r} is not a string", "use str(value)")
    if len(value) > MAX_TAG_VALUE_LENGTH or "\x00" in value:
        raise InvalidInputError(
            f"tag '{key}' value is too long or contains NUL",
            f"keep tag values under {MAX_TAG_VALUE_LENGTH} characters",
        )
    _check_utf8(value, f"tag '{key}' value")
    return value
