"""``gitruns diff`` and ``gitruns compare`` as text, markdown (for a pull request) or JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from gitruns.display.fit import fit_lines, render_table
from gitruns.display.safe_text import printable
from gitruns.display.text import tabulated
from gitruns.format import layout
from gitruns.format.ids import short_id
from gitruns.format.text import format_duration, format_number
from gitruns.runs.compare import MISSING, Change, CodeChange, CompareRow, MetricChange, RunDiff
from gitruns.runs.model import Run

ABSENT = "—"
UNLIMITED = 1_000_000  # no terminal to fit (a caller that wants all of it)
_MARKS = {"added": "+", "removed": "-", "changed": "~", "upgraded": "~", "downgraded": "~"}
_TITLES = {
    "run": "Run",
    "params": "Params",
    "metrics": "Metrics",
    "resources": "Resources",
    "tags": "Tags",
    "environment": "Environment",
    "packages": "Packages",
    "conda": "Conda packages",
    "code": "Code",
}


def label(run: Run) -> str:
    return f"{run.name} ({short_id(run.id)})"


def value_text(value: Any, key: str = "") -> str:
    if value is MISSING or value is None:
        return ABSENT
    if key == "duration" and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(layout.json_safe(value), sort_keys=True)
    return format_number(value)


def _delta_text(change: MetricChange) -> tuple[str, str]:
    delta, percent = change.delta, change.percent
    if delta is None:
        return "", ""
    delta_text = format_number(delta) if math.isnan(delta) else f"{delta:+.6g}"
    return delta_text, "n/a" if percent is None else f"{percent:+.1f}%"


def _rows(section: str, changes: list[Any], marks: bool) -> tuple[list[str], list[list[str]]]:
    headers = ["", "a", "b"]
    rows = []
    for change in changes:
        row = [change.key, value_text(change.a, change.key), value_text(change.b, change.key)]
        if section in ("metrics", "resources"):
            row += list(_delta_text(change))
        if section in ("packages", "conda"):
            row.append(change.kind)
        if marks:
            row.insert(0, _MARKS.get(change.kind, " "))
        rows.append(row)
    if section in ("metrics", "resources"):
        headers += ["delta", "change"]
    if section in ("packages", "conda"):
        headers.append("")
    return (["", *headers] if marks else headers), rows


def _shown(diff: RunDiff, only_changed: bool) -> dict[str, list[Change]]:
    sections = {}
    for name, changes in diff.sections().items():
        kept = [c for c in changes if not only_changed or c.kind != "same"]
        if kept:
            sections[name] = kept
    return sections


# -- text ----------------------------------------------------------------------------------------
def diff_text(diff: RunDiff, only_changed: bool = True, width: int = UNLIMITED) -> str:
    """Sections of changes as plain tables, every line within ``width`` columns (the
    widest column of a table gives way first; values are cut with '…')."""
    lines = [_header_line("a", diff.a), _header_line("b", diff.b)]
    for name, changes in _shown(diff, only_changed).items():
        headers, rows = _rows(name, changes, marks=True)
        headers[2:4] = [label(diff.a), label(diff.b)]
        headers[0] = ""
        table = render_table(headers, rows, width, rule=False, indent=2, protect=(1,))
        lines += ["", name, *table]
    lines += _code_text(diff.code, only_changed)
    if len(lines) == 2:
        lines += ["", "no differences (use --all to see every field)"]
    return fit_lines("\n".join(printable(line) for line in lines) + "\n", width)


def _header_line(side: str, run: Run) -> str:
    started = run.start_time[:19].replace("T", " ")
    return f"{side}  {label(run)}  {run.status}  started {started}"


def _code_text(code: CodeChange, only_changed: bool) -> list[str]:
    if code.same and (only_changed or code.a is None):
        return []
    lines = ["", "code"]
    if code.same:
        return [*lines, f"  same commit {code.a}"]
    lines += [f"  a  {code.a or '(no commit)'}", f"  b  {code.b or '(no commit)'}"]
    if code.error:
        return [*lines, f"  cannot compare: {code.error}"]
    for count, commits, where in (
        (code.count_only_in_b, code.only_in_b, "only in b (a..b)"),
        (code.count_only_in_a, code.only_in_a, "only in a (b..a)"),
    ):
        if count:
            lines.append(f"  {count} commit{'s' if count != 1 else ''} {where}:")
            lines += [f"    {c}" for c in commits]
            if count > len(commits):
                lines.append(f"    ... and {count - len(commits)} more")
    if code.stat:
        lines.append("  git diff --stat a b:")
        lines += [f"    {line}" for line in code.stat.splitlines()]
    return lines


# -- markdown ------------------------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def diff_markdown(diff: RunDiff, only_changed: bool = True) -> str:
    lines = [
        f"### gitruns diff: `{_md(label(diff.a))}` → `{_md(label(diff.b))}`",
        "",
        f"- **a**: `{_md(diff.a.name)}` {diff.a.status}, started {diff.a.start_time}, "
        f"run `{diff.a.id}`",
        f"- **b**: `{_md(diff.b.name)}` {diff.b.status}, started {diff.b.start_time}, "
        f"run `{diff.b.id}`",
    ]
    for name, changes in _shown(diff, only_changed).items():
        headers, rows = _rows(name, changes, marks=False)
        singular = name[:-1] if name.endswith("s") else "field"
        headers[0:3] = [singular, _md(label(diff.a)), _md(label(diff.b))]
        cells = [[_md(cell) for cell in row] for row in rows]
        table = tabulated(cells, headers, "github")
        lines += ["", f"#### {_TITLES[name]}", "", table]
    lines += _code_markdown(diff.code, only_changed)
    if len(lines) == 4:
        lines += ["", "No differences."]
    return "\n".join(printable(line, keep="\n") for line in lines) + "\n"


def _code_markdown(code: CodeChange, only_changed: bool) -> list[str]:
    if code.same and (only_changed or code.a is None):
        return []
    lines = ["", "#### Code", ""]
    if code.same:
        return [*lines, f"Same commit `{code.a}`."]
    lines += [f"- a: `{code.a or '(no commit)'}`", f"- b: `{code.b or '(no commit)'}`"]
    if code.error:
        return [*lines, f"- cannot compare: {_md(code.error)}"]
    for count, commits, where in (
        (code.count_only_in_b, code.only_in_b, "only in b (`a..b`)"),
        (code.count_only_in_a, code.only_in_a, "only in a (`b..a`)"),
    ):
        if count:
            lines.append(f"- {count} commit{'s' if count != 1 else ''} {where}:")
            lines += [f"  - `{c[:12]}` {_md(c[13:])}" for c in commits]
            if count > len(commits):
                lines.append(f"  - ... and {count - len(commits)} more")
    if code.stat:
        lines += ["", "```text", code.stat, "```"]
    return lines


def diff_json(diff: RunDiff, only_changed: bool = True) -> str:
    data = layout.json_safe(diff.to_dict(only_changed))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# -- many runs -----------------------------------------------------------------------------------
def compare_table(
    runs: list[Run],
    rows: list[CompareRow],
    only_changed: bool,
    markdown: bool,
    width: int = UNLIMITED,
) -> str:
    """One column per run; as text, within ``width`` columns (markdown is never cut)."""
    kept = [r for r in rows if r.changed or not only_changed]
    if not kept:
        return "no differences (use --all to see every field)\n"
    headers = ["", *(label(run) for run in runs)]
    cells = [[f"{r.section}.{r.key}", *(value_text(v, r.key) for v in r.values)] for r in kept]
    if markdown:
        cells = [[_md(c) for c in row] for row in cells]
        headers = ["field", *(_md(h) for h in headers[1:])]
        return tabulated(cells, headers, "github") + "\n"
    names = ["", *(run.name for run in runs)]
    ids = ["", *(short_id(run.id) for run in runs)]
    table = render_table(names, cells, width, protect=(0,), subheader=ids)
    return "\n".join(table) + "\n"


def compare_json(runs: list[Run], rows: list[CompareRow], only_changed: bool) -> str:
    data = {
        "runs": [{"id": r.id, "name": r.name, "commit": r.commit} for r in runs],
        "rows": [
            {
                "field": f"{row.section}.{row.key}",
                "values": [None if v is MISSING else v for v in row.values],
                "changed": row.changed,
            }
            for row in rows
            if row.changed or not only_changed
        ],
    }
    return json.dumps(layout.json_safe(data), indent=2, sort_keys=True) + "\n"
