"""The filter language of ``gitruns ls --filter`` and ``gitruns.search_runs``.

See docs/querying.md. ``parse`` turns text into a tree (gitruns.query.ast),
``compile_filter`` turns a tree into a predicate over cached runs.
"""

from __future__ import annotations

from gitruns.query.ast import Field, Node, to_text
from gitruns.query.errors import QuerySyntaxError
from gitruns.query.evaluate import compile_filter, getter, sort_runs
from gitruns.query.parser import parse, parse_field


def parse_sort_key(text: str) -> tuple[Field, bool]:
    """``-metrics.acc`` -> (Field, descending=True); ``start_time`` -> ascending.

    A trailing `` desc`` or `` asc`` (MLflow's ``order_by`` style) works too.
    """
    body = text.strip()
    descending = body.startswith("-")
    body = body.removeprefix("-").removeprefix("+").strip()
    lowered = body.lower()
    for suffix, desc in ((" desc", True), (" asc", False)):
        if lowered.endswith(suffix):
            body, descending = body[: -len(suffix)].rstrip(), desc
            break
    return parse_field(body), descending


__all__ = [
    "Field",
    "Node",
    "QuerySyntaxError",
    "compile_filter",
    "getter",
    "parse",
    "parse_field",
    "parse_sort_key",
    "sort_runs",
    "to_text",
]
