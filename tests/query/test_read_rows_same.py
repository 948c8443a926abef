"""A cold build's rows are the rows of the general reader.

The cache build reads run.yaml, params, summary and artifacts with ``yaml_fast`` and
``schema_fast`` and their memories (lines, entries, blobs seen before); the general
reader is PyYAML's safe loader and jsonschema, with no memory. Over a varied set of runs
(nested and odd params, NaN and huge numbers, quotes, non-ASCII text, multi-line notes
that only PyYAML reads, a fetched run, an invalid one) both give the same rows, read
once and read again from memory."""

from __future__ import annotations

import marshal
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _query_helpers import write_invalid_run
from conftest import git

import gitruns
from gitruns.format import schema_fast, yaml_fast
from gitruns.query import cache
from gitruns.recording.repository import open_store
from gitruns.runs import model

_BAD_ID = "01a0c450-0000-7000-8000-0000000000ff"


def _record_varied_runs(repo: Path, other: Path) -> None:
    odd_params: dict[str, Any] = {
        "lr": 0.001,
        "seed": 7,
        "big": 10**30,
        "model": {"layers": 12, "name": "vit-b", "dims": [1, 2, 3], "empty": {}},
        "quoted": "it's 'quoted'",
        "double": 'say "hi"\tand tab',  # PyYAML only: written double-quoted
        "unicode": "naïve café ✓",
        "yes_word": "yes",
        "number_text": "1e3",
        "none": None,
        "flag": True,
        "uuid_like": "01a0c450-6c00-7000-8000-000000000000",
    }
    with gitruns.start_run(name="varied", params=odd_params, tags={"team": "nlp"}) as first:
        first.log_metric("acc", 0.5)
        first.log_metric("acc", float("nan"), step=1)
        first.log_metric("loss", float("inf"))
        first.log_metric("val/loss", -1e-300)
        first.note("a note\nover two lines: with 'quotes' and \"doubles\"")
    for i in range(3):  # runs sharing most of their entries (read from memory)
        with gitruns.start_run(name=f"sweep-{i}", params={"lr": 0.1 * i, "seed": i}) as run:
            run.log_metric("acc", 0.1 * i)
    with gitruns.start_run(name="child ünïcode", parents=[first.id], experiment="exp"):
        pass
    write_invalid_run(repo, _BAD_ID, b"id: not-a-uuid\nname: 3\n")
    script = (
        "import gitruns\n"
        "with gitruns.start_run(name='theirs', params={'p': [1, 'two']}) as run:\n"
        "    run.log_metric('acc', 0.7)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=other, check=True, capture_output=True)
    git(repo, "fetch", "-q", str(other), "refs/runs/*:refs/remote-runs/team/*")


def _rows(store: Any) -> dict[str, tuple[Any, ...]]:
    refs = cache.current_refs(store)
    return {ref: cache._read_row(store, ref, *info).row for ref, info in sorted(refs.items())}


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to NaN whatever its sign bit (PyYAML reads ``nan`` as -NaN,
    ``float("nan")`` is +NaN), the record column's marshal bytes compared as values."""
    if isinstance(a, bytes) and isinstance(b, bytes) and a != b:
        return _same(marshal.loads(a), marshal.loads(b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and bool(a == b)


def test_rows_of_the_fast_readers_are_the_general_readers_rows(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    _record_varied_runs(repo, other)
    store = open_store()
    fast = [_rows(store) for _ in range(3)]  # read, remembered, read from memory
    assert len(fast[0]) == 7
    assert sum(row[4] is not None for row in fast[0].values()) == 1  # the invalid run
    assert any(row[3] == "team" for row in fast[0].values())  # the fetched run

    # The general reader: PyYAML and jsonschema for everything, no memory of earlier runs.
    monkeypatch.setattr(yaml_fast, "parse", lambda raw: yaml_fast.UNSURE)
    monkeypatch.setattr(schema_fast, "accepts", lambda name, document: False)
    monkeypatch.setattr(model, "_PARSED", {})
    monkeypatch.setattr(model, "_SEEN_ONCE", set())
    general = _rows(open_store())
    for rows in fast:
        assert rows.keys() == general.keys()
        for ref, row in rows.items():
            assert _same(row, general[ref]), ref


def test_the_yaml_of_an_odd_run_is_read_by_pyyaml(repo: Path) -> None:
    # The run of the test above whose params hold double-quoted text: yaml_fast leaves
    # its params.yaml to PyYAML (the fallback the comparison covers).
    with gitruns.start_run(name="odd", params={"double": 'say "hi"\tand tab'}) as run:
        pass
    raw = open_store().read_file(gitruns.get_run(run.id).commit, "params.yaml", 1 << 20)
    assert raw is not None and yaml_fast.parse(raw) is yaml_fast.UNSURE
