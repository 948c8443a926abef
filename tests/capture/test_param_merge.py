"""Params merged per leaf with the source of each leaf, and redaction of merged params."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import gitruns
from gitruns.capture.param_merge import (
    hard_paths,
    merge_by_leaf,
    nest_dotted,
    value_at,
)
from gitruns.capture.secrets import redact_params
from gitruns.format.layout import flatten


def test_a_dotted_cli_value_replaces_one_leaf_of_a_config_subtree() -> None:
    config = {"db": {"driver": "mysql", "user": "root", "timeout": 10}, "seed": 1}
    merged, sources = merge_by_leaf(
        [("config:conf.yaml", config), ("cli", nest_dotted({"db.user": "ann"}))]
    )
    assert merged == {"db": {"driver": "mysql", "user": "ann", "timeout": 10}, "seed": 1}
    assert sources == {
        "db": {"db.driver": "config:conf.yaml", "db.timeout": "config:conf.yaml", "db.user": "cli"},
        "seed": {"seed": "config:conf.yaml"},
    }


def test_precedence_not_argument_order_decides() -> None:
    merged, sources = merge_by_leaf(
        [("cli", {"lr": 1}), ("config:a.yaml", {"lr": 3}), ("argparse", {"lr": 2, "x": 0})]
    )
    assert merged == {"lr": 1, "x": 0}
    assert sources == {"lr": {"lr": "cli"}, "x": {"x": "argparse"}}


def test_a_scalar_above_a_subtree_replaces_it_whole() -> None:
    merged, sources = merge_by_leaf([("hydra", {"model": {"w": 1}}), ("cli", {"model": "mlp"})])
    assert merged == {"model": "mlp"} and sources == {"model": {"model": "cli"}}


def test_a_subtree_from_one_source_keeps_one_entry() -> None:
    merged, sources = merge_by_leaf(
        [("hydra", {"a": {"b": {"c": 1, "d": 2}, "e": 3}}), ("cli", {"a": {"e": 4}})]
    )
    assert merged == {"a": {"b": {"c": 1, "d": 2}, "e": 4}}
    assert sources == {"a": {"a.b": "hydra", "a.e": "cli"}}


_keys = st.sampled_from(["a", "b", "c"])
_values: st.SearchStrategy[Any] = st.recursive(
    st.integers(0, 9), lambda inner: st.dictionaries(_keys, inner, max_size=3), max_leaves=8
)
_sources = st.lists(
    st.tuples(
        st.sampled_from(["cli", "argparse", "argv", "hydra", "config:x"]),
        st.dictionaries(_keys, _values, max_size=3),
    ),
    max_size=4,
    unique_by=lambda pair: pair[0],
)
_RANK = ["cli", "argparse", "argv", "hydra", "config:x"]


def _reference(by_source: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[Any, str]]:
    """Leaf path -> (value, source), built by overlaying flattened sources, lowest first."""
    leaves: dict[str, tuple[Any, str]] = {}
    for source, params in sorted(by_source, key=lambda p: _RANK.index(p[0]), reverse=True):
        for path, value in flatten(params).items():
            for known in list(leaves):
                if known == path or known.startswith(path + ".") or path.startswith(known + "."):
                    del leaves[known]
            leaves[path] = (value, source)
    return leaves


def _source_of(path: str, sources: dict[str, dict[str, str]]) -> str:
    entries = sources[path.split(".")[0]]
    prefixes = [p for p in entries if path == p or path.startswith(p + ".")]
    return entries[max(prefixes, key=len)]


@given(_sources)
def test_every_leaf_holds_the_value_and_source_of_its_winner(
    by_source: list[tuple[str, dict[str, Any]]],
) -> None:
    merged, sources = merge_by_leaf(by_source)
    expected = _reference(by_source)
    assert {p: v for p, v in flatten(merged).items()} == {p: v for p, (v, _) in expected.items()}
    for path, (_value, source) in expected.items():
        assert _source_of(path, sources) == source


def test_nest_dotted_keeps_clashing_names_flat() -> None:
    assert nest_dotted({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    assert nest_dotted({"a": 1, "a.b": 2}) == {"a": 1, "a.b": 2}


def test_hard_paths_and_value_at() -> None:
    assert hard_paths("opt", "cli", None) == [""]
    assert hard_paths("opt", "config:c.yaml", None) == []
    assert hard_paths("db", "cli", {"db.user": "cli", "db.driver": "hydra"}) == ["user"]
    assert value_at({"user": {"name": "x"}}, "user.name") == (True, "x")
    assert value_at({"user": 1}, "user.name") == (False, None)


def test_redaction_of_merged_params() -> None:
    params = {
        "db": {"password": "hunter2", "url": "postgres://u:pw-in-url@db/x", "user": "ann"},
        "api_key": "k-123",
        "hosts": ["https://a:b@h.example", "plain"],
        "tokenizer": "bpe",
        "token": None,
    }
    assert redact_params(params) == {
        "db": {"password": "[REDACTED]", "url": "postgres://u:***@db/x", "user": "ann"},
        "api_key": "[REDACTED]",
        "hosts": ["https://a:***@h.example", "plain"],
        "tokenizer": "bpe",
        "token": None,
    }


def test_leaf_sources_are_stored_and_a_refined_param_replaces_them(repo: Path) -> None:
    with gitruns.start_run() as run:
        run.log_param("db", {"user": "ann", "port": 1}, source="cli", leaf_sources={"db": "cli"})
        run.log_param(
            "db",
            {"user": "ann", "port": 1, "driver": "pg"},
            source="cli",
            leaf_sources={"db.user": "cli", "db.port": "cli", "db.driver": "hydra"},
            replace=True,
        )
        run.log_param("lr", 0.1)
    stored = gitruns.get_run(run.id)
    assert stored.params == {"db": {"user": "ann", "port": 1, "driver": "pg"}, "lr": 0.1}
    assert stored.document["param_sources"] == {
        "db.driver": "hydra",
        "db.port": "cli",
        "db.user": "cli",
        "lr": "api",
    }
