"""A fast reader for the YAML gitruns itself writes; anything else is left to PyYAML.

PyYAML builds Python objects in Python even with libyaml, about 0.15 ms for a small
run.yaml: three quarters of a cold cache build. ``yamlio.dump`` writes a narrow subset
(block mappings and indentless sequences, one value a line, sorted keys), which this
reads line by line. It answers only when it is sure PyYAML's safe loader reads the same
text as the same data: a plain scalar is taken only when it has no character YAML gives a
meaning to and PyYAML's own resolver leaves it a string, numbers only in the decimal forms
that resolver reads as int or float, quoted text only single-quoted on one line.
Anything else (double quotes, comments, tags, anchors, flow collections, multi-line
scalars, tabs, unusual line breaks or characters) returns ``UNSURE`` and the caller uses
PyYAML, so crafted input is never read differently by the two paths (a property test
compares them).
"""

from __future__ import annotations

import marshal
import re
from typing import Any

from gitruns.format.yaml_resolvers import IMPLICIT_RESOLVERS

UNSURE = object()
MAX_DEPTH = 32  # deeper documents go to PyYAML (and yamlio's checks)
_SEEN: dict[str, Any] = {}
_SEEN_MAX = 20_000
_NOT_REMEMBERED = (list, dict, int, float)
_WIDE = "\u00a1-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
_REST = f"A-Za-z0-9_./+@()<>'={_WIDE}-"
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")
# A run id (a UUID in lowercase hex): a plain string to PyYAML, as no implicit resolver
# takes a text with "-" after its eighth character and no "." (a test checks it).
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_QUOTED = re.compile(r"'([^']*(?:''[^']*)*)'")  # a quote inside is written twice
_WORDS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    ".nan": float("nan"),
    ".inf": float("inf"),
    "-.inf": float("-inf"),
    "[]": [],
    "{}": {},
}


# The two patterns below for ASCII text: the wide classes only add characters above
# U+00A0, so on ASCII text these match exactly what the wide ones match, and they compile
# in a fraction of a millisecond instead of about 10 ms (``_Wide``).
_ASCII_REST = "A-Za-z0-9_./+@()<>'=-"
_ASCII_PLAIN = re.compile(
    f"(?:[A-Za-z0-9/._]|-(?=[A-Za-z_-]))[{_ASCII_REST}]*(?: [{_ASCII_REST}]+)*"
)
_ASCII_ODD = re.compile("[^\n\x20-\x7e]")
_ASCII_ODD_BYTES = bytes(b for b in range(128) if not (b == 10 or 0x20 <= b <= 0x7E))
# The odd bytes turned into line feeds (which none of them is): a text holds one when
# ``translate`` changes it. A third less than deleting them and comparing lengths.
_ASCII_ODD_TABLE = bytes.maketrans(_ASCII_ODD_BYTES, b"\n" * len(_ASCII_ODD_BYTES))


class _Wide:
    """The patterns for any text, compiled when the first non-ASCII text comes (their wide
    classes cost about 10 ms, which every command that reads only ASCII would pay)."""

    def __init__(self) -> None:
        self.plain = re.compile(
            f"(?:[A-Za-z0-9/._{_WIDE}]|-(?=[A-Za-z_-]))[{_REST}]*(?: [{_REST}]+)*"
        )
        # Tabs, CR, NEL, the Unicode line and paragraph separators (line breaks to YAML),
        # BOMs, and what PyYAML refuses as unprintable.
        self.odd = re.compile(
            "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
        )


_compiled: _Wide | None = None


def _wide() -> _Wide:
    global _compiled
    if _compiled is None:
        _compiled = _Wide()
    return _compiled


_LINE = re.compile(r"^( *)(.+)$", re.MULTILINE)
_MARKERS = ("--- ", "... ")
# Mapping lines already read, ``content -> (key, value)`` (``_OPEN``: a block follows):
# the lines of run.yaml repeat from run to run. Immutable values only, as in ``_SEEN``.
_LINES: dict[str, tuple[str, Any]] = {}
_LINES_MAX = 10_000  # the lines that repeat are among the first runs' lines
_LINE_MAX_CHARS = 200
_NOT_REMEMBERED_LINES = (list, dict, float)
_OPEN = object()
# ``key: []`` and ``key: {}`` are remembered with these in place of the value: each
# reading gets a fresh container (run.yaml has three such lines: inputs, notes, parents).
_NEW_LIST = object()
_NEW_DICT = object()
Lines = list[tuple[str, str]]  # (indent as spaces, content)
# A top-level mapping is read an entry at a time: the text of each top-level key and its
# block (``_TOP`` splits before every line that starts a key) read once, then looked up:
# run.yaml's command, environment, git, user ... blocks are the same from run to run.
# An entry holding containers is kept marshalled (each document gets fresh ones), or, when
# it is one key over a mapping two levels deep at most (git, user, tags, command ...), as
# ``(key, mapping, keys of its containers)`` that a few shallow copies make fresh (a
# quarter of the time); the memo is emptied when full, so blocks that repeat come back
# while those that never do (ids, times, metric values) go.
_TOP = re.compile(r"\n(?=[^ \n-])")
_ENTRIES: dict[str, dict[str, Any] | bytes | tuple[str, dict[str, Any], tuple[str, ...]]] = {}
_ENTRIES_MAX = 1_024
_ONCE: set[str] = set()  # entries read once (not remembered yet)
_ENTRY_MAX_CHARS = 1_024


class _Unsure(Exception):
    pass


def parse(raw: bytes) -> Any:
    """The data of ``raw`` as ``yaml.safe_load`` reads it, or ``UNSURE``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return UNSURE
    if not text or " \n" in text or text[-1] == " ":  # a trailing space, or a blank line
        return UNSURE
    if text.isascii():
        if raw.translate(_ASCII_ODD_TABLE) != raw:
            return UNSURE
    elif _wide().odd.search(text):
        return UNSURE
    if text.startswith(_MARKERS) or "\n--- " in text or "\n... " in text:
        return UNSURE  # "--- " or "... " at a line's start marks a document, not a key
    if text[0] not in " -\n" and not text.startswith(("[]", "{}")):
        return _top_mapping(text)
    # (indent, content) of each line that is not empty, split in C: an indent is the
    # string of its spaces, and strings of spaces compare as their lengths do.
    lines = _LINE.findall(text)
    if len(lines) == 1 and lines[0][1] in ("[]", "{}"):
        return [] if lines[0][1] == "[]" else {}
    if not lines or lines[0][0]:
        return UNSURE
    try:
        value, end = _block(lines, 0, "", 0)
    except (_Unsure, RecursionError, ValueError):  # ValueError: an int too long to read
        return UNSURE
    return value if end == len(lines) else UNSURE


def _top_mapping(text: str) -> Any:
    """A document that starts with a key, read an entry at a time (``_ENTRIES``). Each
    entry is read by ``_mapping`` on its own lines exactly as in the whole document: a
    top-level line ends every block above it, and no block looks past its own lines."""
    document: dict[str, Any] = {}
    keys = 0
    try:
        for entry in _TOP.split(text):
            if "\n" not in entry:  # one line: what ``_mapping`` makes of it, sooner
                key, value = _LINES.get(entry) or _mapping_line(entry)
                if value is _OPEN:
                    return UNSURE  # "key:" and nothing
                if value is _NEW_LIST:
                    value = []
                elif value is _NEW_DICT:
                    value = {}
                document[key] = value
                keys += 1
                continue
            known = _ENTRIES.get(entry)
            if isinstance(known, tuple):
                document[known[0]] = _fresh(known)
                keys += 1
                continue
            if known is None:
                part = _metric_entry(entry) or _entry(entry)
            elif isinstance(known, bytes):
                part = marshal.loads(known)
            else:
                part = known
            keys += len(part)
            document.update(part)
    except (_Unsure, RecursionError, ValueError):
        return UNSURE
    return document if keys == len(document) else UNSURE  # else a key came twice


# One metric of summary.yaml as gitruns writes it (its keys sorted, one number a line):
# seldom the same in two runs, so read by one match instead of line by line. The groups
# take only texts ``_mapping_line`` reads as numbers: ints by ``_INT`` and decimal floats
# by ``_FLOAT`` (both as it types them), or one of PyYAML's NaN and infinities.
_NUMBER = r"(-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.nan|\.inf|-\.inf)"
_WHOLE = r"(-?(?:0|[1-9][0-9]*))"
_METRIC = re.compile(
    rf"([A-Za-z0-9_][A-Za-z0-9_./-]*):\n  count: {_WHOLE}\n  last: {_NUMBER}\n"
    rf"  last_step: {_WHOLE}\n  last_timestamp: {_WHOLE}\n  max: {_NUMBER}\n"
    rf"  min: {_NUMBER}\n?"
)


def _metric_entry(text: str) -> dict[str, Any] | None:
    """A metric's entry of summary.yaml read as ``_entry`` reads it, or None when the
    text is not exactly that shape (``_entry`` then reads it)."""
    found = _METRIC.fullmatch(text)
    if found is None:
        return None
    name, count, last, step, timestamp, high, low = found.groups()
    return {
        _key(name): {
            "count": int(count),
            "last": _number(last),
            "last_step": int(step),
            "last_timestamp": int(timestamp),
            "max": _number(high),
            "min": _number(low),
        }
    }


def _number(text: str) -> float:
    return _WORDS[text] if text[-1] in "nf" else float(text)


def _entry(text: str) -> dict[str, Any]:
    """The keys of one top-level entry (more than one where a key starts with ``-``)."""
    lines = _LINE.findall(text)
    if not lines:
        return {}
    value: dict[str, Any]
    value, end = _mapping(lines, 0, "", 0)
    if end != len(lines):
        raise _Unsure
    # Remembered when seen a second time: most entries that are not the same in the
    # next run (a metric's summary) are never seen again.
    if len(text) <= _ENTRY_MAX_CHARS:
        if text not in _ONCE:
            if len(_ONCE) >= _ENTRIES_MAX:
                _ONCE.clear()
            _ONCE.add(text)
            return value
        if len(_ENTRIES) >= _ENTRIES_MAX:
            _ENTRIES.clear()
        plain = all(type(item) not in (list, dict) for item in value.values())
        shallow = None if plain else _two_levels(value)
        _ENTRIES[text] = value if plain else (shallow or marshal.dumps(value))
        if shallow is not None:  # the memo holds ``value``'s containers: give out copies
            return {shallow[0]: _fresh(shallow)}
    return value


def _fresh(shallow: tuple[str, dict[str, Any], tuple[str, ...]]) -> dict[str, Any]:
    """The mapping of a remembered ``_two_levels`` entry, in containers of its own (a
    caller that changes them must not change what the next document reads)."""
    _key, inner, nested = shallow
    inner = inner.copy()
    for name in nested:
        inner[name] = inner[name].copy()
    return inner


def _two_levels(entry: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    """``(key, mapping, keys of its containers)`` of an entry that is one key over a
    mapping whose containers hold no container: copying the mapping and those containers
    makes it fresh. None for any other shape."""
    if len(entry) != 1:
        return None
    [(key, inner)] = entry.items()
    if type(inner) is not dict:
        return None
    nested = tuple(name for name, item in inner.items() if type(item) in (list, dict))
    for name in nested:
        items = inner[name].values() if type(inner[name]) is dict else inner[name]
        if any(type(item) in (list, dict) for item in items):
            return None
    return key, inner, nested


def _scalar(text: str) -> Any:
    known = _SEEN.get(text, _SEEN)  # keys and many values repeat from run to run
    if known is not _SEEN:
        return known
    value = _new_scalar(text)
    # Immutable values only (each document gets its own containers), and no numbers:
    # they are read as fast as looked up, and most (metric values) never come again.
    if len(_SEEN) < _SEEN_MAX and len(text) <= 64 and type(value) not in _NOT_REMEMBERED:
        _SEEN[text] = value
    return value


def _new_scalar(text: str) -> Any:
    if text[:1] == "'":  # single-quoted text (times, ids): no number or word starts so,
        inner = text[1:-1]
        if len(text) > 1 and text[-1] == "'" and "'" not in inner:
            return inner  # the usual case: no quote inside, nothing to unescape
        quoted = _QUOTED.fullmatch(text)
        if quoted:
            return quoted.group(1).replace("''", "'")
        raise _Unsure
    # Decimal numbers first (most values no other run repeats are): PyYAML's resolver
    # tries its float pattern first, then int, and both take every text these match.
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INT.fullmatch(text):
        return int(text)
    if not text:
        raise _Unsure
    if text in _WORDS:
        value = _WORDS[text]
        return [] if value == [] else {} if value == {} else value
    tag = _implicit_tag(text)  # what PyYAML's resolver makes of this plain scalar
    if tag == _INT_TAG and _INT.fullmatch(text):
        return int(text)
    if tag == _FLOAT_TAG and _FLOAT.fullmatch(text):
        return float(text)
    if tag is None and (_ASCII_PLAIN if text.isascii() else _wide().plain).fullmatch(text):
        return text
    raise _Unsure


def _implicit_tag(text: str) -> str | None:
    for tag, pattern in IMPLICIT_RESOLVERS.get(text[0], ()):
        if pattern.match(text):
            return str(tag)
    return None


def _key(text: str) -> str:
    known = _KEYS.get(text)
    if known is not None:
        return known
    value = _scalar(text)
    if not isinstance(value, str) or (text[0] == "'" and value != text[1:-1]):
        raise _Unsure  # keys are names: no numbers, no quotes that YAML would unescape
    if len(text) <= 64:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        _KEYS[text] = value
    return value


# Keys read before, by their text (a dict lookup instead of two calls: the keys of
# run.yaml, params.yaml and summary.yaml are the same from run to run). Emptied when full.
_KEYS: dict[str, str] = {}
_KEYS_MAX = 20_000
_NUMBER_START = frozenset("-0123456789")


def _block(lines: Lines, i: int, indent: str, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise _Unsure
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        return _sequence(lines, i, indent, depth)
    return _mapping(lines, i, indent, depth)


def _sequence(lines: Lines, i: int, indent: str, depth: int) -> tuple[Any, int]:
    items: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
        rest = lines[i][1][2:]
        if rest.startswith(" ") or not rest:
            raise _Unsure
        if rest.startswith("- ") or ((": " in rest or rest.endswith(":")) and rest[0] != "'"):
            lines[i] = (indent + "  ", rest)  # a nested sequence or mapping starts here
            value, i = _block(lines, i, indent + "  ", depth + 1)
        else:
            value, i = _scalar(rest), i + 1
        items.append(value)
    if i < len(lines) and lines[i][0] > indent:
        raise _Unsure
    return items, i


def _mapping(lines: Lines, i: int, indent: str, depth: int) -> tuple[Any, int]:
    mapping: dict[str, Any] = {}
    count = len(lines)
    while i < count:
        at, content = lines[i]
        if at != indent or content.startswith("- "):
            break
        known = _LINES.get(content)
        key, value = known if known is not None else _mapping_line(content)
        if key in mapping:
            raise _Unsure
        i += 1
        if value is not _OPEN:
            if value is _NEW_LIST:
                value = []
            elif value is _NEW_DICT:
                value = {}
            mapping[key] = value
        elif i < count and lines[i][0] > indent:
            mapping[key], i = _block(lines, i, lines[i][0], depth + 1)
        elif i < count and lines[i][0] == indent and lines[i][1].startswith("- "):
            mapping[key], i = _sequence(lines, i, indent, depth + 1)
        else:
            raise _Unsure  # "key:" and nothing: null, which gitruns never writes
    if i < count and lines[i][0] > indent:
        raise _Unsure
    return mapping, i


def _mapping_line(content: str) -> tuple[str, Any]:
    """``key: value`` as (key, value), ``key:`` as (key, ``_OPEN``); remembered when the
    value is immutable (a fresh ``[]`` or ``{}`` is made for each document)."""
    if content.endswith(":"):
        parsed = (_key(content[:-1]), _OPEN)
    else:
        name, sep, rest = content.partition(": ")
        if not sep or not rest or rest.startswith(" "):
            raise _Unsure
        # What ``_new_scalar`` makes of a quoted text without quotes inside, a run id, a
        # decimal float or int, sooner (a pattern costs a microsecond or two a try, so
        # each is tried only on texts that can match it: a number starts with "-" or a
        # digit, a run id is 36 characters): the values of run.yaml and params.yaml
        # that no other run repeats, and of summary.yaml. A run id's line is not
        # remembered (no other run has it), nor a float's (as ``_scalar``).
        first = rest[0]
        value: Any
        if first == "'":
            inner = rest[1:-1]
            value = inner if len(rest) > 1 and rest[-1] == "'" and "'" not in inner else None
            if value is None:
                value = _scalar(rest)
        elif len(rest) == 36 and _RUN_ID.fullmatch(rest):
            return _key(name), rest
        elif first in _NUMBER_START:
            if _FLOAT.fullmatch(rest):
                return _key(name), float(rest)
            value = int(rest) if _INT.fullmatch(rest) else _scalar(rest)
        else:
            value = _scalar(rest)
        parsed = (_key(name), value)
    # Not floats either: most (metric values) never come again. Emptied when full, so
    # that the lines of later runs are remembered too.
    if len(content) <= _LINE_MAX_CHARS:
        kind = type(parsed[1])
        remembered = parsed
        if kind in _NOT_REMEMBERED_LINES:
            empty = not parsed[1] and kind is not float
            if not empty:
                return parsed
            remembered = (parsed[0], _NEW_LIST if kind is list else _NEW_DICT)
        if len(_LINES) >= _LINES_MAX:
            _LINES.clear()
        _LINES[content] = remembered
    return parsed
