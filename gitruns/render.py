"""Turn runs into text, JSON, YAML or tables. Never imports click; the CLI prints."""

from __future__ import annotations

import json
import math
from typing import Any

from gitruns import layout, yamlio
from gitruns.records import Run
from gitruns.safetext import is_printable, printable


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


def run_as_json(run: Run) -> str:
    return json.dumps(layout.json_safe(run.to_dict()), indent=2, sort_keys=True)


def run_as_yaml(run: Run) -> str:
    """YAML, with non-ASCII characters as escapes when the run holds a character that
    ``printable`` would escape (YAML writes bidi overrides and NEL as they are)."""
    text = yamlio.dump(run.to_dict()).decode("utf-8")
    return text if is_printable(text.replace("\n", "")) else yamlio.dump_ascii(run.to_dict())


MAX_CELL = 40


def fit_table(headers: list[str], rows: list[list[str]], width: int, keep: int = 2) -> str:
    """A plain-text table no wider than ``width``: long cells are cut with '…', then
    columns are dropped from the right (never the first ``keep``)."""
    headers = [printable(h) for h in headers]
    cells = [[_cut(printable(c), MAX_CELL) for c in row] for row in rows]
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
    writer.writerow([printable(h) for h in headers])
    writer.writerows([[_csv_cell(c) for c in row] for row in rows])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return printable(value) if isinstance(value, str) else value


def table_markdown(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(printable(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


def tabulated(rows: list[list[Any]], headers: list[str], style: str) -> str:
    """``tabulate`` (no number parsing) of cells and headers made printable."""
    from tabulate import tabulate

    safe_rows = [[printable(c) for c in row] for row in rows]
    safe_headers = [printable(h) for h in headers]
    return str(tabulate(safe_rows, headers=safe_headers, tablefmt=style, disable_numparse=True))
