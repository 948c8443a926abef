"""Columns of ``gitruns ls``: which to show by default, and the value of each cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gitruns.format.ids import short_id
from gitruns.format.text import format_duration, format_number
from gitruns.query.ast import Field
from gitruns.query.cache import LOCAL, CachedRun
from gitruns.query.evaluate import getter

BASE_COLUMNS = [Field("attr", k) for k in ("id", "name", "status", "start_time", "duration")]
HEADERS = {"start_time": "start", "end_time": "end"}
MAX_PARAMS, MAX_METRICS, MAX_TAGS = 6, 6, 3


def default_columns(rows: Sequence[CachedRun], mentioned: Sequence[Field] = ()) -> list[Field]:
    """id, name, status, start, duration; origin when fetched runs are listed; the
    params, metrics and tags the filter and sort keys mention (each once); then the
    params, metrics and tags whose values differ between the listed runs, system metrics
    aside. A narrow terminal drops columns from the right, so params come before
    metrics: they say what a run was, and its metrics are easiest read next to them."""
    columns = list(BASE_COLUMNS)
    if any(row.experiment is not None for row in rows):
        columns.insert(2, Field("attr", "experiment"))  # after the name
    if any(row.origin != LOCAL for row in rows):
        columns.append(Field("attr", "origin"))
    for field in mentioned:
        if field.namespace != "attr" and not _same_column(field, columns):
            columns.append(field)
    shown = {(f.namespace, f.key) for f in columns if f.agg is None}
    # system/* metrics (CPU, memory, GPU use) differ in every run: not worth a default column
    metrics = [{k: s[0] for k, s in r.metrics.items() if not k.startswith("system/")} for r in rows]
    for namespace, mappings, cap in (
        ("params", [r.params for r in rows], MAX_PARAMS),
        ("metrics", metrics, MAX_METRICS),
        ("tags", [r.tags for r in rows], MAX_TAGS),
    ):
        keys = [k for k in _varying(mappings) if (namespace, k) not in shown][:cap]
        columns += [Field(namespace, k, exact=namespace == "metrics") for k in keys]
    return columns


def _same_column(field: Field, columns: Sequence[Field]) -> bool:
    """A filter and a sort key naming one field (``metrics.acc`` and ``metrics.`acc```)
    give one column."""
    return any(
        (c.namespace, c.key, c.agg) == (field.namespace, field.key, field.agg) for c in columns
    )


def _varying(mappings: list[dict[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every mapping (all keys for a single run)."""
    keys = sorted({k for m in mappings for k in m})
    if len(mappings) < 2:
        return keys
    missing = object()
    return [k for k in keys if len({repr(m.get(k, missing)) for m in mappings}) > 1]


def header(field: Field, short: bool = True) -> str:
    """The column's title: ``start`` in tables, the field name itself in JSON and CSV."""
    if field.namespace == "attr":
        return HEADERS.get(field.key, field.key) if short else field.key
    if field.namespace == "metrics" and field.exact and field.agg is None:
        return f"metrics.{field.key}"  # default columns: the plain name reads better
    return field.to_text()


def table_headers(fields: Sequence[Field]) -> list[str]:
    """Titles for the terminal table, where width is scarce: ``lr`` rather than
    ``params.lr``, unless two columns would then read the same (a param and a metric of
    one name keep their prefixes). CSV, JSON and markdown keep the full field names."""
    full = [header(f) for f in fields]
    bare = [_bare(f, title) for f, title in zip(fields, full, strict=True)]
    return [
        b if bare.count(b) == 1 and b not in HEADERS.values() else t
        for b, t in zip(bare, full, strict=True)
    ]


def _bare(field: Field, title: str) -> str:
    if field.namespace == "attr":
        return title
    return title.split(".", 1)[1]


def display_cell(row: CachedRun, field: Field, *, one_year: bool = False) -> str:
    """The cell as a table shows it: short id, time to the minute (``11-18 12:06`` when
    ``one_year``: every listed run started in the same year), 1m30s, 6 digits."""
    if field.namespace == "attr":
        if field.key == "id":
            return short_id(row.run_id)
        if field.key in ("start_time", "end_time"):
            text = row.start_time if field.key == "start_time" else row.end_time
            if not text:
                return ""
            shown = str(text)[5:16] if one_year else str(text)[:16]
            return shown.replace("T", " ")
        if field.key == "duration":
            return format_duration(row.duration) if row.duration is not None else ""
    value = getter(field)(row)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_number(value)


def raw_cell(row: CachedRun, field: Field) -> Any:
    """The cell as data (JSON, CSV): full id, ISO times, numbers as numbers."""
    if field == Field("attr", "start_time"):
        return row.start_time
    if field == Field("attr", "end_time"):
        return row.end_time
    return getter(field)(row)
