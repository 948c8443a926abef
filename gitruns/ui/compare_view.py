"""The compare page's data: runs side by side (``gitruns compare``'s rows) and what a
parallel-coordinates view of a sweep needs (flattened params and metric summaries)."""

from __future__ import annotations

from typing import Any

from gitruns.errors import InvalidInputError
from gitruns.format import layout
from gitruns.runs.compare import MISSING, compare_runs
from gitruns.runs.model import Run

MAX_COMPARED = 200


def run_summary(run: Run, origin: str) -> dict[str, Any]:
    """A run in brief: identity, flattened params, metric summaries and tags."""
    summary: dict[str, Any] = layout.json_safe(
        {
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "origin": origin,
            "start_time": run.start_time,
            "duration_s": run.duration,
            "params": layout.flatten(run.params),
            "metrics": run.metrics,
            "tags": run.tags,
        }
    )
    return summary


def compare_data(runs: list[tuple[Run, str]]) -> dict[str, Any]:
    """Runs and their field-by-field rows; ``changed`` marks rows whose values differ."""
    if not runs:
        raise InvalidInputError("no runs to compare", "pick two or more runs")
    if len(runs) > MAX_COMPARED:
        raise InvalidInputError(
            f"{len(runs)} runs to compare, over {MAX_COMPARED}", "narrow the filter"
        )
    rows = compare_runs([run for run, _ in runs])
    metric_keys = sorted(
        {key for run, _ in runs for key in run.metrics}, key=layout.metric_sort_key
    )
    return {
        "runs": [run_summary(run, origin) for run, origin in runs],
        "rows": [
            {
                "section": row.section,
                "key": row.key,
                "values": [None if v is MISSING else layout.json_safe(v) for v in row.values],
                "missing": [v is MISSING for v in row.values],
                "changed": row.changed,
            }
            for row in rows
        ],
        "metric_keys": metric_keys,
    }
