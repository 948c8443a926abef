"""An adversarial pass over the fast YAML reader (gitruns.format.yaml_fast): crafted text
must be read exactly as PyYAML's safe loader reads it, or left to PyYAML (``UNSURE``). A
text PyYAML refuses must never be read by the fast path: a run that is not valid YAML
would otherwise be listed and shown from a fast reading the slow path rejects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _record_helpers import record
from _trust_helpers import commit_tree, plumb, with_files
from _yaml_helpers import identical
from conftest import fsck, git, gitruns_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from gitruns.format import yaml_fast, yamlio


def assert_read_as_pyyaml_reads(raw: bytes) -> None:
    for _ in range(3):  # read, remembered, read from memory
        fast = yaml_fast.parse(raw)
        try:
            slow = yaml.load(raw, Loader=yamlio._Loader)
        except yaml.YAMLError:
            assert fast is yaml_fast.UNSURE, (raw, fast)
            continue
        assert fast is yaml_fast.UNSURE or identical(fast, slow), (raw, fast, slow)


@pytest.mark.parametrize(
    "text",
    [
        "--- x: 2\n",  # "--- " at a line's start starts a document: PyYAML refuses these
        "... x: 2\n",  # "... " ends one
        "a: 1\n--- x: 2\n",
        "a: 1\n... x: 2\n",
        "a:\n  b: 1\n... c: 2\n",
        "--- 'q': 1\n",
        "--- - x: 1\n",
        "...x: 1\n",  # no space: a plain key, read as PyYAML reads it
        "---x: 1\n",
        "a: --- x\n",  # a marker's text inside a line is plain text
        "- --- a\n- ... b\n",
        "a:\n  ... b: 1\n",
    ],
)
def test_document_markers_at_a_line_start_are_never_read_as_keys(text: str) -> None:
    assert_read_as_pyyaml_reads(text.encode())


_benign = st.sampled_from(
    ["a", "b", "k_1", "1", "-1", "1.5", "0.25", "-3.0e-05", "x.y", "/p/q", "a b", "'q'",
     "'it''s'", "é", "A-b", "a=b", "(x)", "<y>", "@u", "+z", "10", "0", "3.11.7"]
)  # fmt: skip
_hostile = st.sampled_from(
    ["'", '"', "#", "&x", "*x", "!!str", "[]", "{}", "[", "}", "1e3", "1.e5", ".inf", "-.inf",
     "+.inf", ".NaN", "0x10", "010", "0o7", "1_0", "yes", "No", "null", "~", "2026-01-01",
     "1:30", "|", ">", "<<", "?", "%", "`", ",", "---", "...", "-", "+", "00", "-0", "-0.0",
     "0.", ".5", "\u00a0", "\u3000", "\x85", "\ufeff", "\u2028", " ", "  ", ":", ": ", "- "]
)  # fmt: skip
_token = st.lists(_benign | _hostile, min_size=1, max_size=2).map("".join)
_line = st.tuples(
    st.sampled_from(["", "", "", "  ", "    ", " "]),
    st.sampled_from([""] * 8 + ["--- ", "... ", "---", "...", "? ", "- "]),
    st.one_of(
        st.tuples(_token, st.sampled_from([": ", ":"]), _token).map("".join),
        st.tuples(st.sampled_from(["- ", "-", "- - "]), _token).map("".join),
        st.tuples(_token, st.just(":")).map("".join),
    ),
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_line, min_size=1, max_size=5), st.booleans())
def test_crafted_lines_read_as_pyyaml_reads_them(lines: list[str], newline: bool) -> None:
    assert_read_as_pyyaml_reads(("\n".join(lines) + ("\n" if newline else "")).encode())


def test_a_run_whose_params_are_not_yaml_is_refused_by_every_command(repo: Path) -> None:
    """Through the real CLI: a run whose params.yaml holds a document marker is not valid
    YAML to PyYAML, so ``show`` refuses it and ``ls`` skips it, as without the fast path."""
    assert record(repo, "-p", "lr=0.1", "--", "true").returncode == 0
    listed = gitruns_cli(repo, "ls", "--format", "json")
    run_id = yaml.safe_load(listed.stdout)[0]["id"]
    ref = f"refs/runs/{run_id}"
    head = git(repo, "rev-parse", ref).strip()
    tree = with_files(repo, head, {"params.yaml": b"lr: 0.1\n... x: 1\n"})
    git(repo, "update-ref", ref, commit_tree(repo, tree, [head], "edit params"), head)
    shown = gitruns_cli(repo, "show", run_id)
    assert shown.returncode == 1, shown.stdout
    assert shown.stderr.startswith("gitruns: error: ") and "params.yaml" in shown.stderr
    assert "Traceback" not in shown.stderr
    listed = gitruns_cli(repo, "ls", "--format", "json")
    assert listed.returncode == 0 and yaml.safe_load(listed.stdout) == []
    assert "skipping" in listed.stderr and "params.yaml" in listed.stderr
    assert plumb(repo, "rev-parse", ref) != head
    fsck(repo)


@pytest.mark.parametrize(
    "text",
    [
        "id: x\ntags:\n  a: b\n",  # one key over a mapping of scalars
        "git:\n  branch: main\n  files:\n  - a\n  opts: {}\n",  # ... holding containers
        "model:\n  act: relu\n  layers: 4\nlr: 0.1\n",
    ],
)
def test_a_reading_changed_by_its_caller_never_changes_the_next(text: str) -> None:
    """Entries seen twice are remembered, and the second reading handed out the very
    containers the memory kept: a caller that changed them changed every later reading
    of the same text (another run's params or tags) in the process."""
    raw = text.encode()
    expected = yaml.load(raw, Loader=yamlio._Loader)
    for reading in range(5):
        document = yaml_fast.parse(raw)
        assert identical(document, expected), (reading, document)
        for value in document.values():
            if isinstance(value, dict):
                value["changed"] = reading
                for inner in value.values():
                    if isinstance(inner, list | dict):
                        inner.clear()


_SWEEP = """
import gitruns
for lr in (0.1, 0.2, 0.3):
    with gitruns.start_run(params={"lr": lr, "model": {"layers": 4, "sizes": [8, 8]}}) as run:
        print(run.id)
"""
_CHANGE_ONE_READ_ANOTHER = """
import sys
import gitruns
ids = sys.argv[1:]
gitruns.get_run(ids[0]).params
changed = gitruns.get_run(ids[1]).params  # the second reading of the "model" entry
changed["model"]["layers"] = 99
changed["model"]["sizes"].append(0)
print(gitruns.get_run(ids[2]).params["model"])
"""


def test_changing_one_runs_params_never_changes_another_runs(repo: Path) -> None:
    """Through the public API, in real processes: a sweep's runs share their params.yaml's
    ``model`` entry; changing one run's params (the user's own object) changed what
    gitruns then read for another run."""
    sweep = subprocess.run(
        [sys.executable, "-c", _SWEEP], cwd=repo, capture_output=True, text=True, check=False
    )
    assert sweep.returncode == 0, sweep.stderr
    ids = sweep.stdout.split()
    read = subprocess.run(
        [sys.executable, "-c", _CHANGE_ONE_READ_ANOTHER, *ids],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "{'layers': 4, 'sizes': [8, 8]}"
    fsck(repo)


@settings(max_examples=1500, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["--- ", "... ", "---", "...", "-- ", ""]),
        st.sampled_from(["1", "x", "1.5", "[1]", "'q'", "true", "a b", "~", "- x", "? y", ""]),
    ).map("".join)
    | st.text(st.sampled_from("-. x1'"), max_size=7)
)
def test_a_command_line_value_after_a_document_marker_is_typed_as_pyyaml_types_it(
    text: str,
) -> None:
    """``record -p k=v`` types v by the fast reader reading ``v: <text>``; alone (as PyYAML
    reads a command-line value) a leading "--- " is a document marker: "--- 1" is 1."""
    fast, slow = yamlio.parse_scalar(text), yamlio.pyyaml_scalar(text)
    assert type(fast) is type(slow) and fast == slow, (text, fast, slow)


def test_record_types_a_value_after_a_document_marker_as_yaml_does(repo: Path) -> None:
    done = record(repo, "-p", "a=--- 1", "-p", "b=--- draft", "--", "true")
    assert done.returncode == 0, done.stderr
    [run] = yaml.safe_load(gitruns_cli(repo, "ls", "--format", "json").stdout)
    shown = yaml.safe_load(gitruns_cli(repo, "show", run["id"], "--format", "json").stdout)
    assert shown["params"] == {"a": 1, "b": "draft"}  # as PyYAML reads "--- 1" alone
    fsck(repo)


def _change_everything(value: Any) -> None:
    if isinstance(value, dict):
        for item in list(value.values()):
            _change_everything(item)
        value["changed"] = True
    elif isinstance(value, list):
        for item in value:
            _change_everything(item)
        value.append("changed")


_plain = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["x", "a b", "1e3"])
_documents = st.dictionaries(
    st.sampled_from(["a", "b", "git", "tags", "model"]),
    st.recursive(
        _plain,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["k", "m", "n"]), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_documents, min_size=1, max_size=3))
def test_every_reading_changed_by_its_caller_leaves_the_next_readings_alone(
    documents: list[Any],
) -> None:
    for raw in [yamlio.dump(document) for document in documents] * 4:
        fast = yaml_fast.parse(raw)
        if fast is yaml_fast.UNSURE:
            continue
        assert identical(fast, yaml.load(raw, Loader=yamlio._Loader)), raw
        _change_everything(fast)
