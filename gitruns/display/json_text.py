"""JSON exactly as ``json.dumps(value, indent=2)`` writes it, in about two thirds of the time.

Python's json module uses its C encoder only without ``indent``; with it, every value goes
through the pure-Python encoder (about 75 µs for one run's record: the largest part of
``gitruns ls --format json`` at 10,000 runs). Here each container that holds no container
(a metric summary, flat params, the user, git facts ...) is written by the C encoder with
the item separator of its depth (``",\\n"`` and its indentation), which is what the
indenting encoder writes between its items; only containers of containers are walked in
Python. The text is the same, character for character (a property test compares it with
``json.dumps``), including NaN and infinities, non-ASCII escapes and non-string keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from json.encoder import encode_basestring_ascii
from typing import Any

_INDENT = "  "
_CONTAINERS = (dict, list, tuple)
_escape = encode_basestring_ascii
# the _json accelerator's encoder (None in a Python built without it); not in the stubs
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2)``."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)


def iter_indented_list(items: Iterable[Any], batch: int = 200) -> Iterator[str]:
    """``json.dumps(list(items), indent=2)`` in pieces of ``batch`` items, so that a long
    listing is written as it is made, never held whole in memory."""
    out: list[str] = ["["]
    count = 0
    for item in items:
        out.append(",\n  " if count else "\n  ")
        _write(item, 1, out)
        count += 1
        if count % batch == 0:
            yield "".join(out)
            out.clear()
    out.append("\n]" if count else "]")
    yield "".join(out)


def _write(value: Any, depth: int, out: list[str]) -> None:
    """Append the text of ``value`` at ``depth`` to ``out`` (the hot loop: few calls)."""
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, _CONTAINERS):
                break
        else:  # no container inside (or empty)
            out.append(_flat(value, depth))
            return
        inner = "\n" + _INDENT * (depth + 1)
        separator = "{" + inner
        for key, item in value.items():
            text = _escape(key) if type(key) is str else _key(key)
            if isinstance(item, _CONTAINERS):
                out.append(f"{separator}{text}: ")
                _write(item, depth + 1, out)
            else:
                out.append(f"{separator}{text}: {_scalar(item)}")
            separator = "," + inner
        out.append(inner[:-2] + "}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, _CONTAINERS):
                break
        else:
            out.append(_flat(value, depth))
            return
        inner = "\n" + _INDENT * (depth + 1)
        separator = "[" + inner
        for item in value:
            if isinstance(item, _CONTAINERS):
                out.append(separator)
                _write(item, depth + 1, out)
            else:
                out.append(separator + _scalar(item))
            separator = "," + inner
        out.append(inner[:-2] + "]")
    else:
        out.append(_scalar(value))


def _scalar(value: Any) -> str:
    """A value that is no container, as json writes it (the common types without a call
    into the encoder)."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite: NaN and infinities below
        return float.__repr__(value)
    return _encoder(0)(value)


def _flat(value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int) -> str:
    """A container of scalars (or an empty one) at ``depth``."""
    text = _ENCODERS[depth](value) if depth < len(_ENCODERS) else _encoder(depth)(value)
    if len(text) == 2:  # {} or []: written so by the indenting encoder too
        return text
    return f"{text[0]}\n{_INDENT * (depth + 1)}{text[1:-1]}\n{_INDENT * depth}{text[-1]}"


@cache
def _encoder(depth: int) -> Callable[[Any], str]:
    """The C encoder writing the items of a container at ``depth`` one a line."""
    separator = ",\n" + _INDENT * (depth + 1)
    if _C_MAKE_ENCODER is None:
        encoder = json.JSONEncoder(separators=(separator, ": "))
        return encoder.encode
    chunks = _C_MAKE_ENCODER(
        None, _default, encode_basestring_ascii, None, ": ", separator, False, False, True
    )
    return lambda value: "".join(chunks(value, 0))


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """A key as json writes it: strings, and numbers, booleans and None as text."""
    if type(key) is str or isinstance(key, str):
        return encode_basestring_ascii(key)
    if key is True or key is False or key is None or isinstance(key, (int, float)):
        return encode_basestring_ascii(_encoder(0)(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


_ENCODERS = [_encoder(depth) for depth in range(64)]
