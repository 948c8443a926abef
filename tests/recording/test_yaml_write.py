"""The fast YAML writer (gitruns.format.yaml_write) writes exactly the bytes PyYAML
writes for ``yamlio.dump``, or declines (None) and PyYAML writes them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import gitruns
from gitruns.format import yaml_write, yamlio

_words = st.sampled_from(
    [
        "yes",
        "No",
        "on",
        "null",
        "~",
        "1_000",
        "0o7",
        "0x1f",
        "1:20",
        "2026-01-01",
        ".5",
        "1e3",
        "-x",
        "-1",
        "a - b",
        "x: y",
        "a:b",
        "http://h/p",
        "--- x",
        "...",
        "-",
        "a #b",
        "3.0",
        "2026-12-01T06:50:11.123+00:00",
        "FINISHED",
        "run-1",
        "a b",
        " a",
        "a ",
        "(x)",
        "@x",
        "=",
        "+1",
        "é",
        "Test User <t@e.com>",
        ">x",
        "<x",
        "<<",
        "a,b",
        ",a",
        "a, b",
        "a:,b",
        "x:1",
        "a <b>",
        "1,000",
        "x:",
        "a >",
        "-.5",
        "a\nb",
        "'q'",
        '"q"',
        "x,y",
        "[a]",
        "{a}",
        "a?",
        "!t",
        "&a",
        "*a",
        "%",
        "#1 SMP PREEMPT_DYNAMIC @0",
        "x: y #z",
        "? x",
        "- x",
        "`x",
        "a;b #c",
        ": x",
        "x:",
        "it's",
        "@it's",
    ]
)
_text = (
    _words
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
    | st.text(st.sampled_from(" -?:#'\"@!&*|>%`,[]{}.x1"), max_size=6)  # indicators, quotes
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text
)
_data = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=3000, deadline=None)
@given(st.dictionaries(_text, _data, max_size=6) | st.lists(_data, max_size=4))
def test_the_fast_writer_writes_what_pyyaml_writes(data: Any) -> None:
    fast = yaml_write.dump(data)
    if fast is not None:
        assert fast == yamlio.pyyaml_dump(data)


@settings(max_examples=3000, deadline=None)
@given(st.dictionaries(_text, _data, min_size=1, max_size=6))
def test_a_mapping_written_key_by_key_is_what_pyyaml_writes(data: Any) -> None:
    """The entries the fast writer is unsure of (multi-line or non-ASCII text, odd keys)
    go to PyYAML one by one: the document is still PyYAML's, byte for byte."""
    expected = yamlio.pyyaml_dump(data)
    assert yamlio.dump(data) == expected
    assert yamlio.dump(data) == expected  # again, from the remembered entries


def test_a_python_c_command_line_leaves_the_rest_of_run_yaml_fast(
    monkeypatch: Any, repo: Any
) -> None:
    """A command line with newlines (``python -c``) is PyYAML's, once a process; the
    other entries of run.yaml stay with the fast writer; the bytes are PyYAML's."""
    calls: list[Any] = []
    real = yamlio.pyyaml_dump

    def counted(data: Any) -> bytes:
        calls.append(data)
        return real(data)

    monkeypatch.setattr(yamlio, "pyyaml_dump", counted)
    monkeypatch.setattr(yamlio, "_ENTRIES", {})
    command = {"argv": ["python", "-c", "import x\nx.go()"], "line": "python -c 'a\nb'"}
    document = {"command": command, "name": "run-1", "status": "FINISHED", "tags": {"é": "x"}}
    first = yamlio.dump(document)
    second = yamlio.dump({**document, "name": "run-2"})
    assert [sorted(c) for c in calls] == [["command"], ["tags"]]  # each once: remembered
    monkeypatch.setattr(yamlio, "pyyaml_dump", real)
    assert first == real(document)
    assert second == real({**document, "name": "run-2"})


def test_a_small_runs_documents_take_the_fast_path(repo: Any) -> None:
    """run.yaml (but for the command line, which may be anything), params, summary and
    artifacts of a typical run are all written fast."""
    with gitruns.start_run(name="fast-yaml", params={"lr": 0.01, "model": {"layers": 3}}) as run:
        run.log_metric("loss", 0.5)
        run.set_tag("team", "nlp")
        run.note("a note")
    loaded = gitruns.get_run(run.id)
    for path in ("run.yaml", "params.yaml", "summary.yaml", "artifacts.yaml"):
        raw = loaded.file(path)
        assert raw is not None
        data = yamlio.load(raw, path)
        assert yamlio.pyyaml_dump(data) == raw
        if path == "run.yaml":
            data.pop("command")  # the test runner's own command line may be anything
        assert yaml_write.dump(data) == yamlio.pyyaml_dump(data), path


def test_the_resolver_table_is_pyyamls() -> None:
    """yaml_write and yaml_fast decide what a plain scalar means from a copy of PyYAML's
    implicit resolvers (so that writing needs no PyYAML import): the copy must be PyYAML's
    table, entry for entry and in its order."""
    from yaml.resolver import Resolver

    from gitruns.format.yaml_resolvers import IMPLICIT_RESOLVERS

    def table(resolvers: Any) -> dict[str, list[tuple[str, str, int]]]:
        return {
            first: [(tag, pattern.pattern, pattern.flags) for tag, pattern in entries]
            for first, entries in resolvers.items()
        }

    assert table(IMPLICIT_RESOLVERS) == table(Resolver.yaml_implicit_resolvers)
