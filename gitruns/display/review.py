"""A branch review as markdown for a pull-request comment (within its size limit) or JSON.

The markdown is rendered at decreasing levels of detail until it fits ``COMMENT_LIMIT``
characters (GitHub refuses longer comments; GitLab's notes allow more): fewer run columns,
metric and param rows, and commits, each cut said in the text. Links (commits, the compare
page, a full report) are collected in a list at the end so the tables stay narrow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from gitruns.display.safe_text import printable
from gitruns.format import layout
from gitruns.format.ids import short_id
from gitruns.format.layout import flatten
from gitruns.format.text import format_duration, format_number
from gitruns.format.validation import same_param_value
from gitruns.review.branch_review import BranchReview, HeadRun
from gitruns.review.links import WebLinks
from gitruns.runs.model import Run

COMMENT_LIMIT = 65_536
MAX_CELL = 60
ABSENT = "—"
SYSTEM_PREFIX = "system/"


@dataclass(frozen=True)
class Detail:
    runs: int
    metrics: int
    params: int
    commits: int


# From everything down to the bare minimum; the last level always fits unless names are huge,
# and then the text is cut.
LEVELS = [
    Detail(8, 200, 100, 50),
    Detail(6, 60, 30, 20),
    Detail(4, 25, 12, 10),
    Detail(2, 10, 5, 3),
    Detail(1, 5, 0, 0),
]


def review_json(review: BranchReview) -> str:
    return json.dumps(review.to_dict(), indent=2, sort_keys=True) + "\n"


def review_markdown(
    review: BranchReview,
    links: WebLinks | None = None,
    report_url: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The review as markdown of at most ``limit`` characters."""
    text = ""
    for detail in LEVELS:
        text = _render(review, links, report_url, detail)
        if len(text) <= limit:
            return text
    note = "\n\n*(cut to fit a pull-request comment: see `gitruns review --format json`)*\n"
    return text[: max(0, limit - len(note))] + note


def _render(
    review: BranchReview, links: WebLinks | None, report_url: str | None, detail: Detail
) -> str:
    code = review.code
    shown = review.runs[: detail.runs]
    plural = "s" if len(review.runs) != 1 else ""
    lines = [
        "<!-- gitruns review -->",
        f"## gitruns: {len(review.runs)} run{plural} on `{_md(code.head)}` "
        f"against `{_md(code.base)}`",
        "",
        *_summary(review),
    ]
    if shown:
        lines += _metrics_table(review, shown, detail.metrics)
        lines += _params_table(review, shown, detail.params)
        lines += _runs_table(review, shown, links)
        if len(review.runs) > len(shown):
            rest = len(review.runs) - len(shown)
            lines += ["", f"*{rest} older run{'s' if rest != 1 else ''} of the branch not shown.*"]
    lines += _commits(review, links, detail.commits)
    lines += _links(review, shown, links, report_url)
    return "\n".join(lines) + "\n"


def _summary(review: BranchReview) -> list[str]:
    code = review.code
    count = f"{code.count} commit{'s' if code.count != 1 else ''}"
    lines = [
        f"- **Code**: {count} in `{_md(code.base)}..{_md(code.head)}` "
        f"(`{code.base_commit[:12]}..{code.head_commit[:12]}`)"
    ]
    if review.filter:
        lines.append(f"- **Runs matching**: `{_md(review.filter)}`")
    if review.baseline is None:
        lines.append(
            f"- **Baseline**: none ({_md(review.rule.describe())}; "
            f"{review.base_runs} run{'s' if review.base_runs != 1 else ''} on the base side)"
        )
    else:
        base = review.baseline
        lines.append(
            f"- **Baseline**: `{_md(_label(base))}` {base.status}, code "
            f"`{str(base.git.get('commit') or '')[:12]}`: {_md(review.rule.describe())}"
        )
    if not review.runs:
        lines += ["", f"No runs on `{_md(code.base)}..{_md(code.head)}` yet."]
    return lines


def _metrics_table(review: BranchReview, shown: list[HeadRun], limit: int) -> list[str]:
    runs = [head.run for head in shown]
    sources = ([review.baseline] if review.baseline else []) + runs
    keys = sorted(
        {k for run in sources for k in run.metrics if not k.startswith(SYSTEM_PREFIX)},
        key=layout.metric_sort_key,
    )
    if not keys:
        return ["", "No metrics."]
    baseline = [f"baseline {_label(review.baseline)}"] if review.baseline else []
    headers = ["metric", *baseline, *(_label(r) for r in runs)]
    rows = []
    for key in keys[:limit]:
        row = [key]
        base_value = _last(review.baseline, key) if review.baseline else None
        if review.baseline:
            row.append(_number(base_value))
        row += [_metric_cell(_last(run, key), base_value, review.baseline) for run in runs]
        rows.append(row)
    lines = [
        "",
        "### Metrics (last value; change against the baseline)",
        "",
        *_table(headers, rows),
    ]
    return lines + _more(len(keys) - limit, "metric")


def _metric_cell(value: float | None, base: float | None, baseline: Run | None) -> str:
    if value is None:
        return ABSENT
    if baseline is None or base is None:
        return _number(value)
    delta = value - base
    if math.isnan(delta):
        return _number(value)
    if delta == 0:
        return f"{_number(value)} (=)"
    arrow = "▲" if delta > 0 else "▼"
    percent = f", {delta / abs(base) * 100:+.1f}%" if base and math.isfinite(base) else ""
    return f"{_number(value)} ({arrow} {delta:+.4g}{percent})"


def _params_table(review: BranchReview, shown: list[HeadRun], limit: int) -> list[str]:
    runs = [head.run for head in shown]
    base = flatten(review.baseline.params) if review.baseline else None
    flat = [flatten(run.params) for run in runs]
    keys = sorted({k for f in ([base] if base else []) + flat for k in f})
    differing = [k for k in keys if _differs(k, base, flat)]
    if not differing or limit == 0:
        return _more(len(differing), "param that differs", "params that differ")
    baseline = [f"baseline {_label(review.baseline)}"] if review.baseline else []
    headers = ["param", *baseline, *(_label(r) for r in runs)]
    rows = []
    for key in differing[:limit]:
        row = [key] + ([_value(base.get(key))] if base is not None else [])
        rows.append(row + [_value(f.get(key)) for f in flat])
    title = "Params that differ from the baseline" if base is not None else "Params that differ"
    return ["", f"### {title}", "", *_table(headers, rows), *_more(len(differing) - limit, "param")]


def _differs(key: str, base: dict[str, Any] | None, flat: list[dict[str, Any]]) -> bool:
    values = ([base.get(key)] if base is not None else []) + [f.get(key) for f in flat]
    return any(v is None for v in values) or any(
        not same_param_value(values[0], v) for v in values[1:]
    )


def _runs_table(review: BranchReview, shown: list[HeadRun], links: WebLinks | None) -> list[str]:
    headers = ["run", "id", "status", "duration", "code", "origin"]
    rows = []
    for head in shown:
        run = head.run
        commit = str(run.git.get("commit") or "")
        code = f"[`{commit[:12]}`][c-{commit[:12]}]" if links and commit else f"`{commit[:12]}`"
        if run.git.get("dirty"):
            code += " + uncommitted changes"
        duration = format_duration(run.duration) if run.duration is not None else ABSENT
        name = _md(_cut(run.name))
        rows.append([name, f"`{run.id}`", run.status, duration, code, _md(head.origin)])
    return ["", "### Runs", "", *_table(headers, rows, escape=False)]


def _commits(review: BranchReview, links: WebLinks | None, limit: int) -> list[str]:
    code = review.code
    if limit == 0 or not code.commits:
        return []
    lines = ["", f"### Commits (`{_md(code.base)}..{_md(code.head)}`, newest first)", ""]
    for commit, subject in code.commits[:limit]:
        sha = f"[`{commit[:12]}`][c-{commit[:12]}]" if links else f"`{commit[:12]}`"
        lines.append(f"- {sha} {_md(subject)}")
    return lines + _more(code.count - min(limit, len(code.commits)), "commit")


def _links(
    review: BranchReview, shown: list[HeadRun], links: WebLinks | None, report_url: str | None
) -> list[str]:
    code = review.code
    items = []
    if report_url:
        items.append(f"- [Full report]({report_url})")
    if links:
        items.append(
            f"- [Compare `{_md(code.base)}...{_md(code.head)}`]"
            f"({links.compare(code.base_commit, code.head_commit)})"
        )
        items.append(f"- [Base commit `{code.base_commit[:12]}`]({links.commit(code.base_commit)})")
        items.append(f"- [Head commit `{code.head_commit[:12]}`]({links.commit(code.head_commit)})")
    if not items:
        return []
    lines = ["", "### Links", "", *items]
    if links:  # the reference definitions used by the tables above (not shown as text)
        commits = {str(h.run.git.get("commit") or "") for h in shown} | {c for c, _ in code.commits}
        lines.append("")
        lines += [f"[c-{c[:12]}]: {links.commit(c)}" for c in sorted(commits) if c]
    return lines


# -- cells -------------------------------------------------------------------------------------
def _label(run: Run) -> str:
    return f"{run.name} ({short_id(run.id)})"


def _last(run: Run | None, key: str) -> float | None:
    if run is None or key not in run.metrics:
        return None
    return float(run.metrics[key]["last"])


def _number(value: Any) -> str:
    return ABSENT if value is None else format_number(value)


def _value(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(layout.json_safe(value), sort_keys=True)
    return format_number(value)


def _md(text: str) -> str:
    """Text safe inside a table cell or inline code span's neighbourhood."""
    safe = printable(text.replace("\n", " "))  # run data is untrusted (display.safe_text)
    return safe.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], escape: bool = True) -> list[str]:
    def cell(text: str) -> str:
        return _md(_cut(text)) if escape else text

    lines = ["| " + " | ".join(_md(_cut(h)) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def _more(count: int, noun: str, plural: str | None = None) -> list[str]:
    if count <= 0:
        return []
    word = noun if count == 1 else plural or f"{noun}s"
    return ["", f"*{count} more {word} not shown: see `gitruns review --format json`.*"]
