"""A fast writer of the YAML ``yamlio.dump`` writes, for the documents gitruns writes most.

PyYAML represents data in Python even with libyaml's emitter: about 0.15 ms for a small
run's ``run.yaml``, the largest single part of writing a small run. This writes plain
data (mappings with string keys, lists, strings, ints, floats, bools, None) line by line
exactly as ``yamlio.dump`` would, and gives up (None: the caller uses PyYAML) on anything
it is not sure of: other types, non-ASCII text, strings with a character YAML gives a
meaning to, long keys, deep nesting. Strings are plain when PyYAML's resolver reads
them back as strings, else single-quoted, as PyYAML's emitter chooses; a property test
compares the two byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gitruns.format.yaml_resolvers import IMPLICIT_RESOLVERS

MAX_DEPTH = 24
MAX_KEY = 100  # PyYAML writes keys of 128 characters or more as "? key" (complex keys)
MAX_TEXT = 4000
_WORD = r"A-Za-z0-9_./()@=+<>-"  # characters YAML gives no meaning to inside a plain scalar
_KEY = re.compile(f"[{_WORD}]+(?: [{_WORD}]+)*")
# A value may also hold "," (it means something in flow style only, and values are in
# block style) and ":" not followed by a space or the end (times, URLs); in a key either
# makes PyYAML quote it.
_VALUE_CHAR = f"(?:[,{_WORD}]|:(?=[,{_WORD}]))"
_VALUE = re.compile(f"{_VALUE_CHAR}+(?: {_VALUE_CHAR}+)*")
_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./(-")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVERS = IMPLICIT_RESOLVERS
_SCALARS = (str, int, float, bool, type(None))


def dump(data: Any) -> bytes | None:
    """``yamlio.dump(data)``, or None when this writer is not sure to write the same."""
    lines: list[str] = []
    try:
        if isinstance(data, dict):
            if not data:
                return b"{}\n"
            if not _mapping(data, "", lines, 0):
                return None
        elif isinstance(data, list):
            if not data:
                return b"[]\n"
            if not _sequence(data, "", lines, 0):
                return None
        else:
            return None
    except _Unsure:
        return None
    lines.append("")
    return "\n".join(lines).encode("ascii")


def dump_by_key(data: dict[Any, Any], write_entry: Callable[[str, Any], str]) -> bytes | None:
    """A mapping of string keys written key by key, ``write_entry(key, value)`` (PyYAML's
    text of ``{key: value}``) writing each entry this writer is unsure of. In the block
    style ``yamlio.dump`` uses (sorted keys, no anchors, no line wrapping) a top-level
    entry's lines do not depend on the other entries: a ``run.yaml`` whose command line
    holds a newline (``python -c``) no longer sends its whole document to PyYAML."""
    if type(data) is not dict or not data or any(type(key) is not str for key in data):
        return None
    parts: list[str] = []
    for key in sorted(data):
        lines: list[str] = []
        try:
            written = _mapping({key: data[key]}, "", lines, 0)
        except _Unsure:
            written = False
        if written:
            lines.append("")
            parts.append("\n".join(lines))
        else:
            parts.append(write_entry(key, data[key]))
    return "".join(parts).encode("utf-8")


class _Unsure(Exception):
    pass


def _mapping(data: dict[Any, Any], indent: str, lines: list[str], depth: int) -> bool:
    """Block mapping lines at ``indent``; the first line's indent may be replaced by the
    caller (``- `` of a sequence item)."""
    if type(data) is not dict or depth > MAX_DEPTH:
        return False
    for key in sorted(data):
        if type(key) is not str or len(key) >= MAX_KEY:
            return False
        value = data[key]
        head = f"{indent}{_text(key, _KEY)}:"
        if type(value) is dict and value:
            lines.append(head)
            if not _mapping(value, indent + "  ", lines, depth + 1):
                return False
        elif type(value) is list and value:
            lines.append(head)
            if not _sequence(value, indent, lines, depth + 1):  # indentless, as PyYAML
                return False
        else:
            lines.append(f"{head} {_scalar(value)}")
    return True


def _sequence(data: list[Any], indent: str, lines: list[str], depth: int) -> bool:
    if type(data) is not list or depth > MAX_DEPTH:
        return False
    for item in data:
        if type(item) is dict and item:
            start = len(lines)
            if not _mapping(item, indent + "  ", lines, depth + 1):
                return False
            lines[start] = f"{indent}- " + lines[start][len(indent) + 2 :]
        elif type(item) is list and item:
            start = len(lines)
            if not _sequence(item, indent + "  ", lines, depth + 1):
                return False
            lines[start] = f"{indent}- " + lines[start][len(indent) + 2 :]
        else:
            lines.append(f"{indent}- {_scalar(item)}")
    return True


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _text(value, _VALUE)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    if kind is float:
        return _float(value)
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    raise _Unsure


def _float(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    if _resolves_to(text) != "tag:yaml.org,2002:float":
        raise _Unsure  # PyYAML would tag it
    return text


_WRITTEN: dict[tuple[str, bool], str] = {}  # keys and values repeat from run to run
_WRITTEN_MAX = 4096


def _text(value: str, allowed: re.Pattern[str]) -> str:
    """A string as PyYAML writes it: plain, or single-quoted when plain would read back
    as something else (``'1.0'``, ``'true'``, ``''``, a timestamp)."""
    known = (value, allowed is _KEY)
    found = _WRITTEN.get(known)
    if found is None:
        found = _text_uncached(value, allowed)
        if len(_WRITTEN) >= _WRITTEN_MAX:
            _WRITTEN.clear()
        _WRITTEN[known] = found
    return found


def _text_uncached(value: str, allowed: re.Pattern[str]) -> str:
    if value == "":
        return "''"
    if len(value) > MAX_TEXT:
        raise _Unsure
    if allowed is _VALUE and _PRINTABLE_LINE.fullmatch(value):
        # A value of one line of printable ASCII, no space at either end: the emitter
        # writes it plain unless it holds a block indicator or reads back as another
        # type, and then single-quoted (allowed for any such line).
        if _block_indicator(value) or _resolves_to(value) != _STR_TAG:
            return "'" + value.replace("'", "''") + "'"
        return value
    if value[0] not in _FIRST or not allowed.fullmatch(value) or _block_indicator(value):
        raise _Unsure
    if _resolves_to(value) != _STR_TAG:
        return f"'{value}'"
    return value


_PRINTABLE_LINE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_LEADING_INDICATORS = "#,[]{}&*!|>'\"%@`"


def _block_indicator(value: str) -> bool:
    """Whether a value holds what the emitter (libyaml's, as PyYAML's) calls a block
    indicator, which rules out plain style: an indicator first (``#1 SMP``, ``@x``,
    ``'q'``), ``- ``/``? ``/``: `` first, ``: `` or `` #`` inside, a document marker."""
    if value.startswith(("---", "...")) or value[0] in _LEADING_INDICATORS:
        return True
    if value[0] in "-?:" and (len(value) == 1 or value[1] == " "):
        return True
    return ": " in value or value.endswith(":") or " #" in value


def _resolves_to(text: str) -> str:
    for tag, pattern in _RESOLVERS.get(text[0], ()):
        if pattern.match(text):
            return str(tag)
    return _STR_TAG
