"""Turn runs into text, JSON, YAML or tables. Never imports click; the CLI prints."""

from __future__ import annotations

import json
import math
from typing import Any

from gitruns import layout, yamlio
from gitruns.ids import short_id
from gitruns.records import Run


def format_number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` for one-line display."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def runs_table(runs: list[Run], max_extra: int = 4) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for ``gitruns ls``: id, name, status, start, duration, then the
    params and metrics that differ between the listed runs (up to ``max_extra`` of each)."""
    params = [flatten(run.params) for run in runs]
    param_keys = _varying_keys(params)[:max_extra]
    metric_keys = _varying_keys([{k: s["last"] for k, s in r.metrics.items()} for r in runs])
    metric_keys = metric_keys[:max_extra]
    headers = ["id", "name", "status", "start", "duration"]
    headers += [f"params.{k}" for k in param_keys] + [f"metrics.{k}" for k in metric_keys]
    rows = []
    for run, flat in zip(runs, params, strict=True):
        row = [
            short_id(run.id),
            run.name,
            run.status,
            run.start_time[:19].replace("T", " "),
            format_duration(run.duration),
        ]
        row += [format_number(flat[k]) if k in flat else "" for k in param_keys]
        row += [
            format_number(run.metrics[k]["last"]) if k in run.metrics else "" for k in metric_keys
        ]
        rows.append(row)
    return headers, rows


def _varying_keys(mappings: list[dict[str, Any]]) -> list[str]:
    keys = sorted({k for m in mappings for k in m})
    if len(mappings) < 2:
        return keys
    return [k for k in keys if len({repr(m.get(k)) for m in mappings}) > 1]


def run_as_json(run: Run) -> str:
    return json.dumps(layout.json_safe(run.to_dict()), indent=2, sort_keys=True)


def run_as_yaml(run: Run) -> str:
    return yamlio.dump(run.to_dict()).decode("utf-8")


def run_as_text(run: Run) -> str:
    """A readable page about one run."""
    data = run.to_dict()
    git = data["git"]
    lines = [
        f"run {run.id}",
        f"name:     {run.name}",
        f"status:   {run.status}"
        + (f" (exit code {data['exit_code']})" if data["exit_code"] is not None else ""),
        f"user:     {data['user']['name']} <{data['user']['email']}> on {data['host']}",
        f"start:    {data['start_time']}",
        f"end:      {data['end_time'] or '-'}  ({format_duration(data['duration_s'])})",
        f"code:     {git['commit'] or '(no commit)'}"
        + (f" on {git['branch']}" if git.get("branch") else "")
        + (" + uncommitted changes" if git.get("dirty") else ""),
    ]
    if data["error"]:
        lines.append(f"error:    {data['error']['type']}: {data['error']['message']}")
    if data["parents"]:
        lines.append(f"parents:  {', '.join(data['parents'])}")
    lines += _section("params", {k: format_number(v) for k, v in flatten(data["params"]).items()})
    lines += _section("tags", data["tags"])
    if run.metrics:
        lines.append("")
        lines.append("metrics:")
        width = max(len(k) for k in run.metrics)
        for key, s in sorted(run.metrics.items()):
            lines.append(
                f"  {key:<{width}}  last {format_number(s['last'])}  min {format_number(s['min'])}"
                f"  max {format_number(s['max'])}  ({s['count']} points, last step {s['last_step']})"
            )
    if data["artifacts"]:
        lines.append("")
        lines.append("artifacts:")
        for art in data["artifacts"]:
            lines.append(f"  {art['path']}  {art['size']} bytes  sha256:{art['sha256'][:12]}")
    if data["notes"]:
        lines.append("")
        lines.append("notes:")
        for note in data["notes"]:
            lines.append(f"  [{note.get('time', '')} {note.get('author', '')}]")
            lines += [f"    {line}" for line in note["text"].splitlines()]
    return "\n".join(lines) + "\n"


def _section(title: str, mapping: dict[str, Any]) -> list[str]:
    if not mapping:
        return []
    width = max(len(k) for k in mapping)
    return ["", f"{title}:"] + [f"  {k:<{width}}  {v}" for k, v in sorted(mapping.items())]


# -- tables of runs (gitruns ls): fit a terminal, or CSV and markdown ---------------------
MAX_CELL = 40


def fit_table(headers: list[str], rows: list[list[str]], width: int, keep: int = 2) -> str:
    """A plain-text table no wider than ``width``: long cells are cut with '…', then
    columns are dropped from the right (never the first ``keep``)."""
    cells = [[_cut(c, MAX_CELL) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    count = len(headers)
    while count > keep and sum(widths[:count]) + 2 * (count - 1) > width:
        count -= 1
    overflow = sum(widths[:count]) + 2 * (count - 1) - width
    if overflow > 0 and count > 1:  # still too wide: narrow the widest kept column
        widest = max(range(count), key=lambda i: widths[i])
        widths[widest] = max(4, widths[widest] - overflow)
    numeric = [all(_is_number(r[i]) for r in cells if r[i]) for i in range(count)]
    lines = [_table_line(headers[:count], widths, numeric)]
    lines.append("  ".join("-" * widths[i] for i in range(count)))
    lines += [_table_line(r[:count], widths, numeric) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _table_line(cells: list[str], widths: list[int], numeric: list[bool]) -> str:
    parts = []
    for i, cell in enumerate(cells):
        text = _cut(cell, widths[i])
        parts.append(text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i]))
    return "  ".join(parts)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_csv(headers: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    return out.getvalue()


def table_markdown(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])
