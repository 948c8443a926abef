"""The fast YAML reader (gitruns.format.yaml_fast) reads what gitruns writes exactly as
PyYAML's safe loader does, and leaves everything it is not sure of to PyYAML: crafted
text is never read differently by the two paths."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from _yaml_helpers import identical
from hypothesis import given, settings
from hypothesis import strategies as st

from gitruns.errors import InvalidRunError
from gitruns.format import yaml_fast, yamlio


def safe_load(raw: bytes) -> Any:
    return yaml.load(raw, Loader=yamlio._Loader)


_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(
    ["yes", "No", "on", "null", "~", "1_000", "0o7", "0x1f", "1:20", "2026-01-01", ".5", "1e3"]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text
)
_keys = _text.filter(bool)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6) | st.lists(_values, max_size=4))
def test_what_gitruns_writes_reads_as_pyyaml_reads_it(data: Any) -> None:
    raw = yamlio.dump(data)
    fast = yaml_fast.parse(raw)
    if fast is not yaml_fast.UNSURE:
        assert identical(fast, safe_load(raw)), raw


_line_parts = st.sampled_from(
    [
        "a", "b", "key", "- ", "-", ": ", ":", " ", "  ", "'", "''", '"', "#", "&x", "*x", "!!str",
        "[]", "{}", "[1]", "1", "-1", "1.5", "1.0e+20", ".inf", ".nan", "0x10", "010", "1_0",
        "yes", "null", "~", "\t", "\r", "\u2028", "\ufeff", "2026-01-01", "1:30", "|", ">",
        "é", "/x/y", "3.11.7", "<<", "=", "?", "%", "@", "`", ",",
    ]
)  # fmt: skip
_lines = st.lists(st.lists(_line_parts, max_size=6).map("".join), max_size=8)


@settings(max_examples=1500, deadline=None)
@given(_lines)
def test_crafted_text_is_never_read_differently(lines: list[str]) -> None:
    raw = "\n".join(lines).encode()
    fast = yaml_fast.parse(raw)
    if fast is yaml_fast.UNSURE:
        return
    assert identical(fast, safe_load(raw)), raw  # PyYAML reads it too, as the same data


def test_real_run_files_take_the_fast_path() -> None:
    document = {
        "command": {"argv": ["python", "train.py", "--lr", "0.1"], "cwd": "/work/x"},
        "environment": {"gpus": [], "os": "Linux 6.1", "python": "3.11.7"},
        "git": {"commit": "643e7dccee610b9355d5d4e1580d8e45533e0ea7", "dirty": False},
        "id": "01a0c450-77b8-7003-9aa6-6d2c7ddf743f",
        "notes": [{"author": "A <a@b.c>", "text": "it's fine", "time": "2026-01-01T00:00:00Z"}],
        "start_time": "2026-12-01T03:57:49.279Z",
        "duration_s": 0.485,
        "error": None,
        "schema_version": 1,
    }
    for data in (document, [], {"acc": {"count": 5, "last": float("nan"), "min": -1e-300}}):
        raw = yamlio.dump(data)
        fast = yaml_fast.parse(raw)
        assert fast is not yaml_fast.UNSURE, raw
        assert identical(fast, safe_load(raw))
        assert identical(yamlio.load(raw, "x"), fast)


def test_the_limits_hold_on_the_fast_path() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"k": deep}
    assert yaml_fast.parse(yamlio.dump(deep)) is yaml_fast.UNSURE  # left to PyYAML
    nested = "\n".join("- " * 30 + "x" for _ in range(5)).encode()
    with pytest.raises(InvalidRunError, match="too large"):
        yamlio.load(nested, "here", max_nodes=100)
    assert yamlio.load(nested, "here", max_nodes=1000) == safe_load(nested)


@settings(max_examples=3000)
@given(st.text(st.characters(max_codepoint=127), max_size=16))
def test_ascii_patterns_match_the_wide_ones_on_ascii_text(text: str) -> None:
    # yaml_fast reads ASCII text with small patterns and compiles the wide ones only for
    # other text: on ASCII text they must agree.
    wide = yaml_fast._wide()
    assert bool(yaml_fast._ASCII_ODD.search(text)) == bool(wide.odd.search(text))
    assert bool(yaml_fast._ASCII_PLAIN.fullmatch(text)) == bool(wide.plain.fullmatch(text))


@settings(max_examples=500, deadline=None)
@given(
    st.from_regex(yaml_fast._FLOAT, fullmatch=True) | st.from_regex(yaml_fast._INT, fullmatch=True)
)
def test_decimal_numbers_read_as_pyyaml_reads_them(text: str) -> None:
    raw = f"key: {text}\nlist:\n- {text}\n".encode()
    fast = yaml_fast.parse(raw)
    assert fast is not yaml_fast.UNSURE
    assert identical(fast, safe_load(raw)), raw


def test_remembered_lines_never_share_containers() -> None:
    raw = b"a: []\nb: {}\nc: 1\n"
    first = yaml_fast.parse(raw)
    first["a"].append(1)
    first["b"]["x"] = 2
    assert yaml_fast.parse(raw) == {"a": [], "b": {}, "c": 1}


@settings(max_examples=1000, deadline=None)
@given(_lines)
def test_crafted_text_read_again_from_memory_reads_the_same(lines: list[str]) -> None:
    # A top-level mapping is read an entry at a time and entries seen before come from
    # memory (the second reading remembers them, the third uses them): every reading
    # must be PyYAML's.
    raw = "\n".join(lines).encode()
    for _ in range(3):
        fast = yaml_fast.parse(raw)
        if fast is not yaml_fast.UNSURE:
            assert identical(fast, safe_load(raw)), raw


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_keys, _values, max_size=6), min_size=1, max_size=4))
def test_documents_sharing_entries_read_as_pyyaml_reads_them(parts: list[Any]) -> None:
    # Runs share most of run.yaml's entries (command, git, user ...): documents made of
    # the same entries in other combinations, read many times.
    documents = [
        {k: v for part in parts[: i + 1] for k, v in part.items()} for i in range(len(parts))
    ]
    for raw in [yamlio.dump(d) for d in documents] * 3:
        fast = yaml_fast.parse(raw)
        if fast is not yaml_fast.UNSURE:
            assert identical(fast, safe_load(raw)), raw


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n-b: 2\n",  # a key starting with "-" stays with the entry before it
        "a:\n- 1\n- 2\nb: 3\n",  # an indentless sequence under a top-level key
        "a:\n  x: 1\nb: 2\na: 3\n",  # a key twice, in different entries
        "a:\n  x: 1\na:\n  x: 1\n",  # the same entry twice
        "a: 1\n\nb:\n  c: 2\n\n  d: 3\n",  # empty lines inside and between entries
        "a: 1 \nb: 2\n",  # a trailing space
        "a:\nb: 1\n",  # "a:" with nothing under it (null)
        "\n- a\n- b\n",  # a sequence after an empty line
        "a: 1\n - b\n",
        "a:\n  - b\n  -c: 1\n",
    ],
)
def test_entry_boundaries_read_as_pyyaml_reads_them(text: str) -> None:
    raw = text.encode()
    for _ in range(3):
        fast = yaml_fast.parse(raw)
        try:
            expected = safe_load(raw)
        except yaml.YAMLError:
            assert fast is yaml_fast.UNSURE
            continue
        assert fast is yaml_fast.UNSURE or identical(fast, expected), raw


def test_entries_from_memory_never_share_containers() -> None:
    raw = b"a:\n  b:\n  - 1\n  c: {}\nd: x\n"
    readings = [yaml_fast.parse(raw) for _ in range(4)]  # read, remembered, then reused
    readings[2]["a"]["b"].append(2)
    readings[2]["a"]["c"]["k"] = 1
    assert readings[3] == {"a": {"b": [1], "c": {}}, "d": "x"}
    assert yaml_fast.parse(raw) == {"a": {"b": [1], "c": {}}, "d": "x"}


def test_the_ascii_table_of_odd_bytes_is_the_ascii_pattern() -> None:
    for byte in range(128):
        odd = bool(yaml_fast._ASCII_ODD.search(chr(byte)))
        assert (byte in yaml_fast._ASCII_ODD_BYTES) == odd, byte
        text = b"a: " + bytes([byte]) + b"\n"
        assert (text.translate(yaml_fast._ASCII_ODD_TABLE) != text) == odd, byte


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(["0.1", "1e3", "-1", "1_000", "0x1f", "yes", "~", "null", "'q'", "a b"])
    | st.text(st.sampled_from(" -?:#'\"@!&*|>%`,[]{}.x1eE_+~"), max_size=6)
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
)
def test_a_command_line_value_is_typed_as_pyyaml_types_it(text: str) -> None:
    """``record -p k=v`` types v without PyYAML when yaml_fast is sure: the same value."""
    fast = yamlio.parse_scalar(text)
    slow = yamlio.pyyaml_scalar(text)
    assert type(fast) is type(slow)
    assert fast == slow or (fast != fast and slow != slow)  # nan


_metric_numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers()
_metric_summaries = st.dictionaries(
    _keys,
    st.fixed_dictionaries(
        {
            "count": st.integers(),
            "last": _metric_numbers,
            "last_step": st.integers(),
            "last_timestamp": st.integers(),
            "max": _metric_numbers,
            "min": _metric_numbers,
        }
    ),
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(_metric_summaries, st.lists(st.sampled_from(["", "\n", " ", "-", "'", "x", "e+5"])))
def test_summary_entries_read_as_pyyaml_reads_them(summary: Any, cuts: list[str]) -> None:
    # summary.yaml's metrics are read by one match each (``_metric_entry``): as written,
    # and with a piece of text put in at a few places, they read as PyYAML reads them.
    raw = yamlio.dump(summary)
    texts = [raw]
    for index, piece in enumerate(cuts):
        at = (index * 7919) % (len(raw) + 1)
        texts.append(raw[:at] + piece.encode() + raw[at:])
    for text in texts:
        fast = yaml_fast.parse(text)
        if fast is yaml_fast.UNSURE:
            continue
        try:
            expected = safe_load(text)
        except yaml.YAMLError:
            raise AssertionError(text) from None
        assert identical(fast, expected), text


def test_a_summary_takes_the_metric_match() -> None:
    summary = {
        "acc": {"count": 5, "last": 0.5, "last_step": 4, "last_timestamp": 17, "max": 0.9},
        "val/loss": {"count": 1, "last": float("nan"), "last_step": 0, "last_timestamp": 1},
    }
    summary["acc"]["min"] = 1e-05
    summary["val/loss"].update({"max": float("inf"), "min": float("-inf")})
    raw = yamlio.dump(summary)
    entries = raw.decode().split("\nval")
    assert yaml_fast._metric_entry(entries[0]) is not None
    assert yaml_fast._metric_entry("val" + entries[1]) is not None
    assert identical(yaml_fast.parse(raw), safe_load(raw))


def test_remembered_empty_containers_are_fresh_in_every_block() -> None:
    # ``key: []`` lines are remembered with a marker for the empty value: inside a block
    # too long for the entry memory, each reading still gets its own containers.
    filler = "".join(f"  k{i}: {'v' * 40}\n" for i in range(40))
    raw = f"a:\n  e: []\n  f: {{}}\n{filler}b: []\n".encode()
    readings = [yaml_fast.parse(raw) for _ in range(3)]
    readings[1]["a"]["e"].append(1)
    readings[1]["a"]["f"]["x"] = 1
    readings[1]["b"].append(2)
    assert identical(readings[2], safe_load(raw)) and identical(readings[0], safe_load(raw))


@pytest.mark.parametrize("value", ["''", "'a'", "'it''s'", "''''", "'a''", "'a' b'", "'", "'#x'"])
def test_single_quoted_values_read_as_pyyaml_reads_them(value: str) -> None:
    raw = f"k: {value}\nl:\n- {value}\n".encode()
    fast = yaml_fast.parse(raw)
    try:
        expected = safe_load(raw)
    except yaml.YAMLError:
        assert fast is yaml_fast.UNSURE
        return
    assert fast is yaml_fast.UNSURE or identical(fast, expected), raw


@pytest.mark.parametrize(
    "raw",
    [
        b"a:\n  b:\n    c: 1\n  d:\n  - 2\n  e: x\nz: 1\n",  # two levels: copied shallowly
        b"a:\n  b:\n    c:\n      d: 1\nz: 1\n",  # three levels: marshalled
        b"a:\n  b:\n  - c: 1\nz: 1\n",  # a mapping in a list: marshalled
    ],
)
def test_entries_copied_from_memory_are_fresh_at_every_level(raw: bytes) -> None:
    readings = [yaml_fast.parse(raw) for _ in range(4)]  # read, remembered, then reused
    expected = safe_load(raw)
    assert all(identical(reading, expected) for reading in readings)
    stack: list[Any] = [readings[2]]
    while stack:  # change every container of one reading
        node = stack.pop()
        items = node.values() if isinstance(node, dict) else node
        stack.extend(item for item in items if isinstance(item, dict | list))
        if isinstance(node, dict):
            node["new"] = 1
        elif isinstance(node, list):
            node.append(1)
    assert identical(yaml_fast.parse(raw), expected) and identical(readings[3], expected)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(yaml_fast._RUN_ID, fullmatch=True))
def test_run_ids_read_as_the_strings_pyyaml_reads(text: str) -> None:
    # A run id is taken as a string without asking PyYAML's resolvers.
    raw = f"id: {text}\n".encode()
    assert safe_load(raw) == {"id": text}
    assert identical(yaml_fast.parse(raw), {"id": text})


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**30), 10**30), st.text(st.sampled_from("ab'-: 0"), max_size=6))
def test_one_line_values_read_as_pyyaml_reads_them(number: int, text: str) -> None:
    for value in (str(number), f"'{text}'", text):
        raw = f"k: {value}\n".encode()
        fast = yaml_fast.parse(raw)
        if fast is yaml_fast.UNSURE:
            continue
        assert identical(fast, safe_load(raw)), raw
