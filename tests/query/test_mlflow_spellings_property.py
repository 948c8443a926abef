"""MLflow's spellings and gitruns' own give the same runs wherever they mean the same thing.

Each generated filter is written twice: as gitruns prints it (``to_text``), and with every
field spelled one of the ways MLflow allows (``metric.``, ```params`.``, ``params."k"``,
``run.status``, ``attributes.run_name``, ``tags.mlflow.runName`` ...) and keywords in
random case. Both texts must select the same rows.
"""

from __future__ import annotations

import json
from typing import Any

from _query_helpers import cached_row
from hypothesis import given, settings
from hypothesis import strategies as st
from test_query_eval import filters, runs, to_row

from gitruns.query import compile_filter, parse, to_text
from gitruns.query.ast import (
    And,
    Compare,
    Field,
    In,
    IsNull,
    Like,
    Node,
    Not,
    Or,
    quote_string,
    value_text,
)
from gitruns.query.cache import CachedRun
from gitruns.query.lineage import LazyLineage, Lineage

_ATTRIBUTE_SPELLINGS = {
    "name": [
        "run_name",
        "attributes.run_name",
        "run.run_name",
        "attribute.`Run name`",
        "tags.mlflow.runName",
        "tags.`mlflow.runName`",
        'tags."mlflow.runName"',
    ],
    "start_time": ["attributes.start_time", "run.start_time", "created", "attr.created"],
    "status": ["attributes.status", "run.status", "attr.status", "`status`"],
    "user": ["user_id", "attributes.user_id", "tags.mlflow.user"],
    "id": ["run_id", "attributes.run_id", "run.run_id"],
    "parent": ["tags.mlflow.parentRunId", "tags.`mlflow.parentRunId`"],
    "entry_point": ["tags.mlflow.source.name", "source", 'tags."mlflow.source.name"'],
    "commit": ["tags.mlflow.source.git.commit", "git_commit"],
    "branch": ["tags.mlflow.source.git.branch", "tags.mlflow.gitBranchName"],
    "note": ["tags.mlflow.note.content"],
    "remote_url": ["tags.mlflow.source.git.repoURL", "tags.mlflow.gitRepoURL"],
    "dirty": ["tags.mlflow.source.git.dirty"],
}
_NAMESPACE_SPELLINGS = {
    "params": ["param", "parameter", "parameters", "`params`", "`param`"],
    "metrics": ["metric", "`metric`", "`metrics`"],
    "tags": ["tag", "`tags`", "`tag`"],
}


def _quoted_key(key: str, draw: st.DrawFn) -> str:
    quote = draw(st.sampled_from(['"', "'", "`"]))
    if quote == "`":
        return "`" + key.replace("`", "``") + "`"
    return quote + key.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def mlflow_field(field: Field, draw: st.DrawFn) -> str:
    """One of MLflow's spellings of ``field`` (gitruns' own when MLflow has none)."""
    if field.namespace == "attr":
        return draw(st.sampled_from(_ATTRIBUTE_SPELLINGS.get(field.key, [field.key])))
    entity = draw(st.sampled_from([field.namespace, *_NAMESPACE_SPELLINGS[field.namespace]]))
    plain = field.to_text().split(".", 1)[1]
    if field.namespace == "metrics" and field.exact:
        return f"{entity}.{_quoted_key(field.key, draw)}" + (f".{field.agg}" if field.agg else "")
    # A quoted metric key is exact: the same thing only when the key has no aggregate suffix.
    quotable = field.namespace != "metrics" or "." not in field.key
    if quotable and draw(st.booleans()):
        return f"{entity}.{_quoted_key(field.key, draw)}"
    return f"{entity}.{plain}"


def _word(text: str, draw: st.DrawFn) -> str:
    return draw(st.sampled_from([text.lower(), text.upper()]))


def mlflow_text(node: Node, draw: st.DrawFn) -> str:
    if isinstance(node, And | Or):
        word = _word("and" if isinstance(node, And) else "or", draw)
        return f"({mlflow_text(node.left, draw)}) {word} ({mlflow_text(node.right, draw)})"
    if isinstance(node, Not):
        return f"{_word('not', draw)} ({mlflow_text(node.operand, draw)})"
    assert isinstance(node, Compare | In | Like | IsNull)
    field = mlflow_field(node.field, draw)
    if isinstance(node, Compare):
        op = {"=": draw(st.sampled_from(["=", "=="])), "!=": draw(st.sampled_from(["!=", "<>"]))}
        return f"{field} {op.get(node.op, node.op)} {value_text(node.value)}"
    if isinstance(node, In):
        values = ", ".join(value_text(v) for v in node.values)
        return f"{field} {_word('not in' if node.negated else 'in', draw)} ({values})"
    if isinstance(node, Like):
        op = ("not " if node.negated else "") + ("ilike" if node.ignore_case else "like")
        return f"{field} {_word(op, draw)} {quote_string(node.pattern)}"
    return f"{field} {_word('is not null' if node.negated else 'is null', draw)}"


generated_runs = st.lists(st.integers(), min_size=1, max_size=6).flatmap(
    lambda xs: st.tuples(*[runs(i) for i in range(len(xs))])
)


@settings(max_examples=300)
@given(generated_runs, filters, st.data())
def test_mlflow_spellings_select_the_same_runs(
    generated: tuple[dict[str, Any], ...], tree: Node, data: st.DataObject
) -> None:
    text = mlflow_text(tree, data.draw)
    ours, theirs = compile_filter(parse(to_text(tree))), compile_filter(parse(text))
    for run in generated:
        row = to_row(run)
        assert ours(row) == theirs(row), (to_text(tree), text, run)


# -- the fields MLflow's system tags map to, over rows with lineage and provenance ---------
IDS = [f"0000000{i}-0000-7000-8000-00000000000{i}" for i in range(6)]
_TEXTS = ["train.py", "-m pkg.train", "main", "dev", "a note", "", "x%", "0000000"]


@st.composite
def provenance_rows(draw: st.DrawFn) -> list[CachedRun]:
    count = draw(st.integers(1, 6))
    rows = []
    for index in range(count):
        parents = draw(st.lists(st.sampled_from(IDS[:count]), max_size=2, unique=True))
        extras = {
            "parents": [p for p in parents if p != IDS[index]],
            "entry_point": draw(st.sampled_from([None, "train.py", "-m pkg.train"])),
            "note": draw(st.sampled_from([None, "a note", "tuned\n\nby hand"])),
            "remote_url": draw(st.sampled_from([None, "https://example.com/r.git"])),
            "dirty": draw(st.booleans()),
        }
        row = cached_row(
            IDS[index],
            name=draw(st.sampled_from(["base", "trial", "Base"])),
            status=draw(st.sampled_from(["FINISHED", "FAILED", "RUNNING"])),
            code_commit=draw(st.sampled_from(["a" * 40, "b" * 40, None])),
            extras=extras,
        )
        assert json.loads(row.extras_json or "{}") == extras
        rows.append(row)
    lineage = Lineage()
    for row in rows:
        lineage.add_run(row.run_id, row.name, row.parents)
    for row in rows:
        row.lineage = LazyLineage(lambda: lineage)
    return rows


_MAPPED = ["name", "status", "user", "id", "parent", "entry_point", "commit", "note", "dirty"]
_mapped_fields = st.sampled_from([Field("attr", key) for key in _MAPPED])
_mapped_literals = st.sampled_from(
    [*_TEXTS, "base", "Test User", "FAILED", "aaaa", "a" * 40, IDS[0], IDS[1][-8:], True]
)
_mapped_leaves = st.one_of(
    st.builds(Compare, _mapped_fields, st.sampled_from(["=", "!="]), _mapped_literals),
    st.builds(In, _mapped_fields, st.lists(_mapped_literals, min_size=1, max_size=3).map(tuple)),
    st.builds(
        Like, _mapped_fields, st.sampled_from(["%", "train%", "%note", "0000000_%"]), st.booleans()
    ),
    st.builds(IsNull, _mapped_fields, st.booleans()),
)
mapped_filters = st.recursive(
    _mapped_leaves,
    lambda inner: st.builds(And, inner, inner) | st.builds(Or, inner, inner),
    max_leaves=4,
)


@settings(max_examples=300)
@given(provenance_rows(), mapped_filters, st.data())
def test_mlflow_system_tags_select_the_same_runs(
    rows: list[CachedRun], tree: Node, data: st.DataObject
) -> None:
    text = mlflow_text(tree, data.draw)
    ours, theirs = compile_filter(parse(to_text(tree))), compile_filter(parse(text))
    for row in rows:
        assert ours(row) == theirs(row), (to_text(tree), text)
