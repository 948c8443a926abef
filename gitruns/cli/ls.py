"""``gitruns ls``: list, filter and sort runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from gitruns.cache import CachedRun
    from gitruns.query import Field
    from gitruns.storage import Store

FORMATS = ["table", "json", "csv", "markdown"]


@click.command("ls")
@click.option("--filter", "-f", "filter_", metavar="EXPR", help="Only runs matching EXPR.")
@click.option(
    "--sort",
    "-s",
    "sort",
    metavar="KEY",
    multiple=True,
    help="Sort by KEY (e.g. metrics.acc); '-KEY' for descending; repeatable. "
    "Default: newest first.",
)
@click.option("--limit", "-n", type=click.IntRange(min=0), default=None, help="At most N runs.")
@click.option("--columns", "-c", metavar="A,B,...", help="Columns to show (fields as in EXPR).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--branch", metavar="B", help="Runs whose code commit is on branch B.")
@click.option("--commit", metavar="C", help="Runs whose code commit is C (or starts with C).")
@click.option(
    "--all",
    "all_copies",
    is_flag=True,
    help="Show every copy of runs fetched from several remotes, not one per run id.",
)
def command(
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int | None,
    columns: str | None,
    fmt: str,
    branch: str | None,
    commit: str | None,
    all_copies: bool,
) -> None:
    """List recorded runs, newest first, local and fetched (refs/remote-runs/...).

    By default the columns are id (the last 8 hex digits, accepted anywhere a run is
    named), name, status, start, duration, then the params, metrics and tags whose values
    differ between the listed runs. Filter fields: params.KEY, metrics.KEY (latest value;
    metrics.KEY.min/.max/.count), tags.KEY, status, name, user, branch, commit,
    start_time, end_time, duration, id, origin. See docs/querying.md.

    \b
    Examples:
      gitruns ls
      gitruns ls -f 'metrics.acc > 0.9 and params.optimizer = "adam"' -s -metrics.acc
      gitruns ls -f 'status = "FAILED" and start_time > "2026-11-01"' -n 5
      gitruns ls -f 'params.model.name like "resnet%"' -c id,name,params.lr,metrics.loss.min
      gitruns ls --branch main --format markdown
    """
    from gitruns.api import open_store
    from gitruns.search import select_runs

    store = open_store()
    selection = select_runs(
        store,
        filter_,
        list(sort),
        limit,
        all_copies=all_copies,
        branch=branch,
        commit=commit,
    )
    from gitruns.safetext import printable

    for ref, why in selection.problems:
        click.echo(printable(f"gitruns: warning: skipping {ref}: {why}"), err=True)
    mentioned = _mentioned_fields(filter_, sort)
    _print(
        store,
        selection.rows,
        columns,
        fmt,
        bool(filter_ or branch or commit or limit == 0),
        mentioned,
    )


def _mentioned_fields(filter_: str | None, sort: tuple[str, ...]) -> list[Field]:
    from gitruns.query import parse, parse_sort_key
    from gitruns.query.ast import fields_of

    fields = [parse_sort_key(key)[0] for key in sort]
    return fields + (fields_of(parse(filter_)) if filter_ and filter_.strip() else [])


def _print(
    store: Store,
    rows: list[CachedRun],
    columns: str | None,
    fmt: str,
    filtered: bool,
    mentioned: list[Field],
) -> None:
    import json

    from gitruns import render
    from gitruns.query import parse_field
    from gitruns.query.columns import default_columns, display_cell, header, raw_cell

    if fmt == "json" and columns is None:
        click.echo(json.dumps(_full_records(store, rows), indent=2))
        return
    if not rows and fmt == "table":
        hint = (
            "no runs match"
            if filtered
            else "no runs yet: record one with 'gitruns record -- python train.py'"
        )
        click.echo(hint, err=True)
        return
    fields = (
        [parse_field(c) for c in split_columns(columns)]
        if columns
        else default_columns(rows, mentioned)
    )
    headers = [header(f, short=fmt in ("table", "markdown")) for f in fields]
    if fmt in ("json", "csv"):
        data = [[raw_cell(row, f) for f in fields] for row in rows]
        if fmt == "json":
            from gitruns.layout import json_safe

            records = [dict(zip(headers, values, strict=True)) for values in data]
            click.echo(json.dumps(json_safe(records), indent=2))
        else:
            click.echo(render.table_csv(headers, data), nl=False)
        return
    cells = [[display_cell(row, f) for f in fields] for row in rows]
    if fmt == "markdown":
        click.echo(render.table_markdown(headers, cells))
    else:
        click.echo(render.fit_table(headers, cells, _width()))


def _width() -> int:
    """The terminal's width; piped output (no terminal, no COLUMNS) is not narrowed."""
    import os
    import shutil
    import sys

    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        return 1_000_000
    return shutil.get_terminal_size((100, 24)).columns


def _full_records(store: Store, rows: list[CachedRun]) -> list[Any]:
    """``--format json``: every run in full, as ``gitruns show --format json`` has it."""
    from gitruns.layout import json_safe
    from gitruns.records import load_run

    records = []
    for row in rows:
        record = load_run(store, row.run_id, row.commit_id).to_dict()
        record["origin"] = row.origin
        records.append(json_safe(record))
    return records


def split_columns(text: str) -> list[str]:
    """``a,b,params.`x,y``` -> ``["a", "b", "params.`x,y`"]`` (commas inside backquotes
    belong to the name)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == "`":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]
