"""The runs table's data: the cached runs a filter selects, as JSON-ready dicts.

Everything goes through ``search.select_runs`` (the cache, the filter language, the sort
keys of ``gitruns ls``), so the table shows exactly what ``gitruns ls`` would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from gitruns.display.columns import default_columns, header
from gitruns.errors import GitrunsError
from gitruns.format.layout import json_safe
from gitruns.query import Field, parse, parse_field, parse_sort_key
from gitruns.query.ast import AGGREGATES, fields_of
from gitruns.query.cache import CachedRun, current_refs
from gitruns.query.errors import QuerySyntaxError
from gitruns.query.search import select_runs
from gitruns.recording.recovery import staging_area
from gitruns.storage import Store

MAX_COLUMNS = 200


def column(field: Field) -> dict[str, Any]:
    """A table column: its text in the filter language, and how to read a row's cell."""
    return {
        "text": field_text(field),
        "label": header(field),
        "ns": field.namespace,
        "key": field.key,
        "agg": field.agg,
        "exact": field.exact,
    }


def field_text(field: Field) -> str:
    """``metrics.acc`` rather than ``metrics.`acc``` where the plain name means the same
    (it only differs for keys ending in ``.min``, ``.max``, ``.last`` or ``.count``)."""
    if field.namespace == "metrics" and field.exact and field.agg is None:
        plain = Field("metrics", field.key)
        if field.key.rpartition(".")[2] not in AGGREGATES and "`" not in plain.to_text():
            return plain.to_text()
    return field.to_text()


def parse_columns(texts: Sequence[str]) -> list[Field]:
    """Column names as ``gitruns ls --columns`` takes them; a bad one raises its caret error."""
    return [parse_field(text) for text in texts[:MAX_COLUMNS] if text.strip()]


# (JSON name, CachedRun attribute) of each scalar field a row sends
_SCALARS = (
    ("id", "run_id"),
    ("origin", "origin"),
    ("name", "name"),
    ("experiment", "experiment"),
    ("status", "status"),
    ("user", "user"),
    ("host", "host"),
    ("start_time", "start_time"),
    ("end_time", "end_time"),
    ("duration", "duration"),
    ("branch", "branch"),
    ("commit", "code_commit"),
)
_MAPPINGS = (("params", "params_json"), ("metrics", "metrics_json"), ("tags", "tags_json"))


def runs_json(rows: Sequence[CachedRun]) -> str:
    """The rows as JSON columns (``{"id": [...], "params": [{...}, ...], ...}``): params
    (flattened), metric summaries ``[last, min, max, count]`` and tags go out as the cache
    holds them, spliced as text, so 10,000 runs cost no JSON decoding on the server."""
    parts = [
        f'"{name}":{_strict_dumps([getattr(r, attr) for r in rows])}' for name, attr in _SCALARS
    ]
    for name, attr in _MAPPINGS:
        parts.append(f'"{name}":[' + ",".join(_strict(getattr(r, attr)) for r in rows) + "]")
    return "{" + ",".join(parts) + "}"


def _strict(text: str) -> str:
    """Cached JSON with NaN or infinities (Python's JSON extension) made strict."""
    if "NaN" in text or "Infinity" in text:
        return dumps(json_safe(json.loads(text)))
    return text


def _strict_dumps(values: list[Any]) -> str:
    try:
        return dumps(values)
    except ValueError:
        return dumps(json_safe(values))


def list_runs(
    store: Store,
    filter: str | None,
    sort: Sequence[str] = (),
    columns: Sequence[str] = (),
    limit: int | None = None,
    all_copies: bool = False,
) -> str:
    """The table's data as JSON text: the runs (newest first unless ``sort``), the columns
    asked for, else ``gitruns ls``'s defaults (``query.columns.default_columns``: one rule
    for both), and the refs skipped as invalid. A bad filter, sort key or column raises
    ``QuerySyntaxError``."""
    chosen = parse_columns(columns)
    selection = select_runs(store, filter, list(sort), limit, all_copies=all_copies)
    mentioned = [parse_sort_key(key)[0] for key in sort]
    if filter and filter.strip():
        mentioned += fields_of(parse(filter))
    shown = chosen or default_columns(selection.rows, mentioned)
    rest = {
        "columns": [column(f) for f in shown],
        "problems": [{"ref": ref, "why": why} for ref, why in selection.problems],
        "version": version(store),
    }
    return '{"runs":' + runs_json(selection.rows) + "," + dumps(rest)[1:]


def version(store: Store) -> str:
    """A fingerprint of every run ref and every run in progress: it changes whenever a run
    is recorded, annotated, fetched, deleted, or starts or ends (the page polls it)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for ref, (_, _, commit) in sorted(current_refs(store).items()):
        digest.update(f"{ref} {commit}\n".encode())
    for run_dir in sorted(staging_area(store).run_dirs()):
        digest.update(f"staged {run_dir.name}\n".encode())
    return digest.hexdigest()[:16]


def error_dict(error: GitrunsError, what: str) -> dict[str, Any]:
    """An error as the page shows it: the caret message of the filter language, the
    column it points at, or a plain message with what to do."""
    data: dict[str, Any] = {"what": what, "message": error.message, "hint": error.hint}
    if isinstance(error, QuerySyntaxError):
        data.update(problem=error.problem, column=error.column, text=error.text)
    return data


def dumps(data: Any) -> str:
    """Strict JSON (NaN and infinities were made strings by ``json_safe`` upstream)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)
