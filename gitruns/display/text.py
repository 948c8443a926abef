"""Turn runs into text, JSON, YAML or tables. Never imports click; the CLI prints."""

from __future__ import annotations

import json
from typing import Any

from gitruns.format import layout, yamlio
from gitruns.runs.model import Run


def run_as_json(run: Run) -> str:
    return json.dumps(layout.json_safe(run.to_dict()), indent=2, sort_keys=True)


def run_as_yaml(run: Run) -> str:
    return yamlio.dump(run.to_dict()).decode("utf-8")


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
