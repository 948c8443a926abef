"""``gitruns report``: runs as one file to attach to a PR, a ticket or an email.

Three formats from one body of data: ``json`` (the data itself), ``markdown`` (tables
and sparklines) and ``html`` (one self-contained page with the dashboard's charts and
tables: data, styles and scripts inline, no network needed to open it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from gitruns.display.plot import sparkline
from gitruns.display.text import table_markdown
from gitruns.errors import InvalidInputError
from gitruns.format import layout
from gitruns.format.text import format_duration, format_number
from gitruns.query.search import select_runs
from gitruns.runs.model import Run
from gitruns.storage import Store
from gitruns.ui import assets
from gitruns.ui.compare_view import compare_data
from gitruns.ui.run_view import locate_run, run_detail
from gitruns.ui.series import read_series
from gitruns.version import __version__

FORMATS = ("html", "markdown", "json")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
SUFFIXES[".json"] = "json"
MAX_RUNS = 200
REPORT_POINTS = 600


def format_for(output: str | None, fmt: str | None) -> str:
    """The format asked for, else the one the file name says, else markdown."""
    if fmt:
        return fmt
    if output:
        for suffix, name in SUFFIXES.items():
            if output.lower().endswith(suffix):
                return name
    return "markdown"


def collect_runs(
    store: Store, refs: Sequence[str], filter: str | None, limit: int | None = None
) -> list[tuple[Run, str]]:
    """The runs named, then those the filter selects (newest first), each once."""
    if not refs and not filter:
        raise InvalidInputError("no runs given", "name runs, or pass --filter EXPR")
    found = [locate_run(store, ref) for ref in refs]
    if filter:
        for row in select_runs(store, filter, None, None).rows:
            found.append(locate_run(store, row.run_id, row.origin))
    unique: dict[tuple[str, str], tuple[Run, str]] = {}
    for run, origin in found:
        unique.setdefault((run.id, origin), (run, origin))
    runs = list(unique.values())[:limit] if limit is not None else list(unique.values())
    if not runs:
        raise InvalidInputError(f"no runs match '{filter}'", "check the filter with gitruns ls")
    if len(runs) > MAX_RUNS:
        raise InvalidInputError(
            f"{len(runs)} runs selected, over the {MAX_RUNS} a report holds",
            "narrow the filter or pass --limit",
        )
    return runs


def report_data(
    store: Store, runs: list[tuple[Run, str]], filter: str | None = None
) -> dict[str, Any]:
    """Everything a report shows: each run in full, its series downsampled, the compare
    rows. Logs and the uncommitted diff stay out (a report is meant to be sent)."""
    root = store.workdir or store.git_dir
    details = []
    series: dict[str, dict[str, Any]] = {}
    for run, origin in runs:
        detail = run_detail(store, run, origin)
        detail["logs"] = []
        detail["has_patch"] = False
        details.append(detail)
        series[run.id] = {
            key: read_series(run, key, REPORT_POINTS).to_dict() for key in sorted(run.metrics)
        }
    return {
        "info": {
            "repo": root.name,
            "generated": layout.iso_time(time.time()),
            "version": __version__,
            "filter": filter,
        },
        "runs": details,
        "series": series,
        "compare": compare_data(runs),
    }


def html(data: dict[str, Any]) -> str:
    names = ", ".join(run["name"] for run in data["runs"][:3])
    more = f" and {len(data['runs']) - 3} more" if len(data["runs"]) > 3 else ""
    return assets.report_page(data, f"gitruns report: {names}{more}")


def markdown(data: dict[str, Any]) -> str:
    """Tables for a PR description or a ticket (GitHub-flavoured markdown)."""
    runs = data["runs"]
    info = data["info"]
    lines = [f"# gitruns report: {info['repo']}", ""]
    where = f", filter `{info['filter']}`" if info.get("filter") else ""
    lines += [f"{len(runs)} run(s){where}; written {info['generated']} by gitruns.", ""]
    lines += ["## Runs", "", _runs_table(data), ""]
    if len(runs) > 1:
        lines += ["## What differs", "", _differences(data), ""]
    for run in runs:
        lines += _run_section(run, data["series"].get(run["id"], {}))
    return "\n".join(lines).rstrip() + "\n"


def _runs_table(data: dict[str, Any]) -> str:
    keys = [k for k in data["compare"]["metric_keys"] if not k.startswith("system/")][:6]
    headers = ["id", "name", "status", "start", "duration", *keys]
    rows = []
    for run in data["runs"]:
        cells = [
            run["id"][-8:],
            run["name"],
            run["status"],
            str(run["start_time"])[:19].replace("T", " "),
            format_duration(run["duration_s"]),
        ]
        cells += [_last(run, key) for key in keys]
        rows.append(cells)
    return table_markdown(headers, rows)


def _last(run: dict[str, Any], key: str) -> str:
    summary = run["metrics"].get(key)
    return format_number(summary["last"]) if summary else ""


def _differences(data: dict[str, Any]) -> str:
    compare = data["compare"]
    headers = ["", *[run["name"] for run in compare["runs"]]]
    rows = [
        [f"{row['section']}.{row['key']}", *_cells(row)]
        for row in compare["rows"]
        if row["changed"] and row["section"] != "packages"
    ]
    return table_markdown(headers, rows) if rows else "Nothing differs."


def _cells(row: dict[str, Any]) -> list[str]:
    pairs = zip(row["values"], row["missing"], strict=True)
    return ["—" if gone else _text(value) for value, gone in pairs]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def _source(sources: dict[str, str], key: str) -> str:
    """Where a flattened param came from: its own entry, or its nearest parent's."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:end]))
        if found:
            return found
    return ""


def _run_section(run: dict[str, Any], series: dict[str, Any]) -> list[str]:
    lines = [f"## {run['name']} (`{run['id']}`)", ""]
    lines.append(
        f"{run['status']}, {format_duration(run['duration_s'])}, started "
        f"{str(run['start_time'])[:19].replace('T', ' ')}; code "
        f"`{str(run['git'].get('commit') or '-')[:12]}`"
        f"{' (dirty)' if run['git'].get('dirty') else ''}."
    )
    lines.append("")
    params = layout.flatten(run["params"])
    if params:
        sources = run["param_sources"]
        rows = [[k, _text(v), _source(sources, k)] for k, v in sorted(params.items())]
        lines += [table_markdown(["param", "value", "source"], rows), ""]
    if run["metrics"]:
        rows = []
        for key in sorted(run["metrics"], key=layout.metric_sort_key):
            s = run["metrics"][key]
            values = [v for v in (series.get(key) or {}).get("value", []) if v is not None]
            rows.append(
                [
                    key,
                    *(format_number(s[a]) for a in ("last", "min", "max")),
                    str(s["count"]),
                    sparkline(values, 20),
                ]
            )
        lines += [table_markdown(["metric", "last", "min", "max", "count", "curve"], rows), ""]
    if run["tags"]:
        lines += ["Tags: " + ", ".join(f"`{k}={v}`" for k, v in sorted(run["tags"].items())), ""]
    for note in run["notes"]:
        lines += [f"> {line}" for line in str(note.get("text", "")).splitlines()] + [""]
    return lines
