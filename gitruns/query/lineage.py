"""Lineage in the filter language: each run's parent runs and child runs.

A run lists its parents in ``run.yaml`` (``parents``: runs it builds on, and the outer run
of a nested run). Children are the reverse relation: the runs that list it. The cache keeps
one ``run_parents`` row per (parent, child copy) so that the reverse relation is one
indexed query, not a scan of every run; runs in progress are added from their staging.

``parent`` and ``child`` match a related run by full id, a prefix or suffix of its id (4 or
more characters), or its name; ``children`` is the number of distinct child runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import InvalidInputError
from gitruns.query.ast import Compare, In, IsNull, Like, Node
from gitruns.query.values import as_text, like_matcher

Relative = tuple[str, str | None]  # (run id, name; None when the run is not here)


@dataclass(frozen=True)
class Family:
    """The runs related to one run, as the filter sees them."""

    parents: tuple[Relative, ...]
    children: tuple[Relative, ...]


@dataclass
class Lineage:
    """Names of runs that are someone's parent, and each parent's children."""

    names: dict[str, str] = field(default_factory=dict)
    children: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_run(self, run_id: str, name: str | None, parents: Iterable[str]) -> None:
        """Count a run (one read from git just now, or in progress) as its parents' child."""
        if name is not None:
            self.names.setdefault(run_id, name)
        for parent in parents:
            self.children.setdefault(parent, {})[run_id] = name or ""

    def family(self, run_id: str, parents: Iterable[str]) -> Family:
        return Family(
            tuple((p, self.names.get(p)) for p in parents),
            tuple(sorted(self.children.get(run_id, {}).items())),
        )


class LazyLineage:
    """Lineage looked up on first use: a query that names no lineage field pays nothing."""

    def __init__(self, load: Callable[[], Lineage]) -> None:
        self._load: Callable[[], Lineage] | None = load
        self._lineage = Lineage()

    def get(self) -> Lineage:
        if self._load is not None:
            load, self._load = self._load, None
            self._lineage = load()
        return self._lineage


def matches_relative(relative: Relative, literal: str) -> bool:
    """``literal`` names the run: its full id, 4+ leading or trailing characters of its id
    (the short id is the last 8 hex digits), or its name."""
    run_id, name = relative
    if literal == run_id or (name is not None and literal == name):
        return True
    text = literal.lower()
    return len(text) >= 4 and (run_id.startswith(text) or run_id.endswith(text))


def relative_predicate(node: Node) -> Callable[[Any], bool]:
    """A predicate for ``parent``/``child`` with ``=``, ``!=``, ``in``, ``like`` or ``is
    null``. A run has any number of parents and children: ``=``, ``in`` and ``like`` hold
    when one of them matches; ``!=``, ``not in`` and ``not like`` when the run has some and
    none matches (a run with none satisfies neither, like a missing value)."""
    assert isinstance(node, Compare | In | Like | IsNull)
    which = node.field.key
    if isinstance(node, IsNull):
        empty = node.negated
        return lambda row: (not _relatives(row, which)) != empty
    match, negated = _relative_matcher(node)
    return lambda row: bool(found := _relatives(row, which)) and any(map(match, found)) != negated


def _relative_matcher(node: Compare | In | Like) -> tuple[Callable[[Relative], bool], bool]:
    if isinstance(node, Like):
        pattern = like_matcher(node.pattern, node.ignore_case)
        return lambda r: pattern(r[0]) or (r[1] is not None and pattern(r[1])), node.negated
    if isinstance(node, Compare) and node.op not in ("=", "!="):
        raise InvalidInputError(
            f"{node.field.key} {node.op} ... compares runs, which have no order",
            f"write {node.field.key} = 'RUN' (an id, a prefix or suffix of one, or a name), "
            f"{node.field.key} in (...), like or is null; count children with children > 0",
        )
    values = node.values if isinstance(node, In) else (node.value,)
    literals = [as_text(value) for value in values]
    negated = node.negated if isinstance(node, In) else node.op == "!="
    return lambda r: any(matches_relative(r, literal) for literal in literals), negated


def _relatives(row: Any, which: str) -> tuple[Relative, ...]:
    family: Family | None = getattr(row, "family", None)
    if family is not None:
        return family.parents if which == "parent" else family.children
    if which == "parent":  # a row no lineage was looked up for: ids, without names
        return tuple((p, None) for p in getattr(row, "parents", ()))
    return ()
