"""The runs table's data: the cached runs a filter selects, as JSON-ready dicts.

Everything goes through ``search.select_runs`` (the cache, the filter language, the sort
keys of ``gitruns ls``), so the table shows exactly what ``gitruns ls`` would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from gitruns.cache import CachedRun, current_refs
from gitruns.errors import GitrunsError
from gitruns.layout import json_safe
from gitruns.query import Field, parse, parse_field, parse_sort_key
from gitruns.query.ast import AGGREGATES, ATTRIBUTES, fields_of
from gitruns.query.columns import default_columns, header
from gitruns.query.errors import QuerySyntaxError
from gitruns.recovery import staging_area
from gitruns.search import select_runs
from gitruns.storage import Store

MAX_COLUMNS = 200
_NOT_COLUMNS = {"email"}  # filterable, but the user column already says who


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


def row_dict(row: CachedRun) -> dict[str, Any]:
    """One run as the table holds it: attributes, flattened params, metric summaries
    ``[last, min, max, count]`` and tags."""
    metrics: Any = row.metrics
    if "NaN" in row.metrics_json or "Infinity" in row.metrics_json:
        metrics = json_safe(metrics)
    params: Any = row.params
    if "NaN" in row.params_json or "Infinity" in row.params_json:
        params = json_safe(params)
    return {
        "id": row.run_id,
        "ref": row.ref,
        "origin": row.origin,
        "name": row.name,
        "status": row.status,
        "user": row.user,
        "email": row.email,
        "host": row.host,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "duration": row.duration,
        "branch": row.branch,
        "commit": row.code_commit,
        "params": params,
        "metrics": metrics,
        "tags": row.tags,
    }


def available_columns(rows: Sequence[CachedRun]) -> list[dict[str, Any]]:
    """Every column the listed runs can fill: attributes, then each param, metric, tag."""
    fields = [Field("attr", name) for name in ATTRIBUTES if name not in _NOT_COLUMNS]
    for namespace in ("params", "metrics", "tags"):
        keys: set[str] = set()
        for row in rows:
            keys.update(getattr(row, namespace))
        fields += [Field(namespace, k, exact=namespace == "metrics") for k in sorted(keys)]
    return [column(f) for f in fields]


def list_runs(
    store: Store,
    filter: str | None,
    sort: Sequence[str] = (),
    columns: Sequence[str] = (),
    limit: int | None = None,
    all_copies: bool = False,
) -> dict[str, Any]:
    """The table's data: runs (newest first unless ``sort``), the columns to show (those
    asked for, else ``gitruns ls``'s defaults), every column available, and the refs
    skipped as invalid. A bad filter, sort key or column raises ``QuerySyntaxError``."""
    chosen = parse_columns(columns)
    selection = select_runs(store, filter, list(sort), limit, all_copies=all_copies)
    rows = selection.rows
    mentioned = [parse_sort_key(key)[0] for key in sort]
    if filter and filter.strip():
        mentioned += fields_of(parse(filter))
    shown = chosen or default_columns(rows, mentioned)
    return {
        "runs": [row_dict(row) for row in rows],
        "columns": [column(f) for f in shown],
        "available": available_columns(rows),
        "problems": [{"ref": ref, "why": why} for ref, why in selection.problems],
        "version": version(store),
    }


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
