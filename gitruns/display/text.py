"""Turn runs into text, JSON, YAML or tables. Never imports click; the CLI prints."""

from __future__ import annotations

import json
from typing import Any

from gitruns.display.safe_text import is_printable, printable
from gitruns.format import layout, yamlio
from gitruns.runs.model import Run


def run_as_json(run: Run) -> str:
    return json.dumps(layout.json_safe(run.to_dict()), indent=2, sort_keys=True)


def run_as_yaml(run: Run) -> str:
    return as_yaml(run.to_dict())


def as_yaml(data: Any) -> str:
    """YAML, with non-ASCII characters as escapes when ``data`` holds a character that
    ``printable`` would escape (YAML writes bidi overrides and NEL as they are)."""
    text = yamlio.dump(data).decode("utf-8")
    return text if is_printable(text.replace("\n", "")) else yamlio.dump_ascii(data)


MAX_CELL = 40
SOFT_WIDTH = 16  # a wide column gives way down to this before any column is dropped


def fit_table(headers: list[str], rows: list[list[str]], width: int, keep: int = 2) -> str:
    """A plain-text table no wider than ``width``: as many columns as fit once wide ones
    are cut to ``SOFT_WIDTH`` (columns are dropped from the right, never the first
    ``keep``), then the widest columns give way with '…' until the table fits."""
    from gitruns.display.fit import display_width, render_table

    headers = [printable(h) for h in headers]
    cells = [[_cut(printable(c), MAX_CELL) for c in row] for row in rows]
    natural = [
        max([display_width(h), *(display_width(r[i]) for r in cells)])
        for i, h in enumerate(headers)
    ]
    floors = [min(n, SOFT_WIDTH) for n in natural]
    count = len(headers)
    while count > keep and sum(floors[:count]) + 2 * (count - 1) > width:
        count -= 1
    numeric = [all(_is_number(r[i]) for r in cells if r[i]) for i in range(count)]
    kept = [r[:count] for r in cells]
    return "\n".join(render_table(headers[:count], kept, width, right=numeric))


def _cut(text: str, width: int) -> str:
    from gitruns.display.fit import cut

    return cut(text.replace("\n", " "), width)


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
