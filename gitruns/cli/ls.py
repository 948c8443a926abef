"""``gitruns ls``: list, filter and sort runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from gitruns.query import Field
    from gitruns.query.cache import CachedRun
    from gitruns.storage import Store

FORMATS = ["table", "json", "yaml", "csv", "markdown"]


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
@click.option("--experiment", "-e", metavar="NAME", help="Runs of experiment NAME only.")
@click.option("--branch", metavar="B", help="Runs whose code commit is on branch B.")
@click.option("--commit", metavar="C", help="Runs whose code commit is C (or starts with C).")
@click.option(
    "--all",
    "all_copies",
    is_flag=True,
    help="Show every copy of runs fetched from several remotes, not one per run id.",
)
@click.option(
    "--ids",
    "-q",
    "ids_only",
    is_flag=True,
    help="Print full run ids only, one per line (for $(...) and xargs).",
)
def command(
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int | None,
    columns: str | None,
    fmt: str,
    experiment: str | None,
    branch: str | None,
    commit: str | None,
    all_copies: bool,
    ids_only: bool,
) -> None:
    """List runs, newest first: local, fetched (refs/remote-runs/...) and in progress
    (status RUNNING).

    By default the columns are id (the last 8 hex digits, accepted anywhere a run is
    named), name, status, start, duration, then the params, metrics and tags whose values
    differ between the listed runs. The table fits the terminal (COLUMNS; 80 when
    piped). Filter fields: params.KEY, metrics.KEY (value at the highest step;
    metrics.KEY.min/.max/.count), tags.KEY, status, name, user, branch, commit,
    start_time, end_time, duration, id, origin, experiment, entry_point, command, note,
    and lineage: parent, child, children. MLflow filters work unchanged (run.status,
    tags.mlflow.runName, metrics."odd key"). See docs/querying.md. An experiment column
    appears when a listed run belongs to one.

    \b
    Examples:
      gitruns ls
      gitruns ls -f 'metrics.acc > 0.9 and params.optimizer = "adam"' -s -metrics.acc
      gitruns ls -f 'status = "RUNNING"'
      gitruns ls -f 'status = "FAILED" and start_time > "2026-11-01"' -n 5
      gitruns ls -f 'params.model.name like "resnet%"' -c id,name,params.lr,metrics.loss.min
      gitruns ls -f 'parent = "sweep-3" and metrics.acc > 0.9' -c name,parent,metrics.acc
      gitruns compare $(gitruns ls -q -n 3)
      gitruns ls --branch main --format markdown
      gitruns ls -f 'metrics.acc > 0.9' --format yaml > good-runs.yaml
      gitruns ls --experiment baseline -s -metrics.acc
    """
    from gitruns.query.search import select_runs
    from gitruns.recording.repository import open_store

    store = open_store()
    filter_ = _with_experiment(filter_, experiment)
    selection = select_runs(
        store,
        filter_,
        list(sort),
        limit,
        all_copies=all_copies,
        branch=branch,
        commit=commit,
    )
    from gitruns.display.safe_text import printable

    for ref, why in selection.problems:
        click.echo(printable(f"gitruns: warning: skipping {ref}: {why}"), err=True)
    if ids_only:
        for row in selection.rows:
            click.echo(row.run_id)
        return
    filtered = bool(filter_ or branch or commit or limit == 0)
    _print(store, selection.rows, columns, fmt, filtered, selection.mentioned)
    if not filtered and fmt == "table":
        _first_look(store, selection.rows)


def _print(
    store: Store,
    rows: list[CachedRun],
    columns: str | None,
    fmt: str,
    filtered: bool,
    mentioned: list[Field],
) -> None:
    import json

    from gitruns.display import text
    from gitruns.display.columns import (
        default_columns,
        display_cell,
        header,
        raw_cell,
        table_headers,
    )
    from gitruns.query import parse_field

    if fmt == "json" and columns is None:  # every run in full, as `show --format json` has it
        from gitruns.display.json_text import iter_indented_list

        for piece in iter_indented_list(_full_records(store, rows)):
            click.echo(piece, nl=False)
        click.echo()
        return
    if fmt == "yaml" and columns is None:  # every run in full, as `show --format yaml`
        if not rows:
            click.echo("[]")
        for row in rows:
            click.echo(_yaml_item(_plain_record(store, row)), nl=False)
        return
    if not rows and fmt == "table":
        if filtered:
            click.echo("no runs match", err=True)
        return
    fields = (
        [parse_field(c) for c in split_columns(columns)]
        if columns
        else default_columns(rows, mentioned)
    )
    headers = [header(f, short=fmt in ("table", "markdown")) for f in fields]
    if fmt == "table":
        headers = table_headers(fields)
    if fmt in ("json", "yaml", "csv"):
        data = [[raw_cell(row, f) for f in fields] for row in rows]
        if fmt == "yaml":
            picked = [dict(zip(headers, values, strict=True)) for values in data]
            click.echo("".join(_yaml_item(item) for item in picked) or "[]\n", nl=False)
        elif fmt == "json":
            from gitruns.format.layout import json_safe

            records = [dict(zip(headers, values, strict=True)) for values in data]
            click.echo(json.dumps(json_safe(records), indent=2))
        else:
            click.echo(text.table_csv(headers, data), nl=False)
        return
    one_year = len({(row.start_time or "")[:4] for row in rows}) == 1
    cells = [[display_cell(row, f, one_year=one_year) for f in fields] for row in rows]
    if fmt == "markdown":
        click.echo(text.table_markdown(headers, cells))
    else:
        from gitruns.display.fit import terminal_width

        click.echo(text.fit_table(headers, cells, terminal_width()))


def _with_experiment(filter_: str | None, experiment: str | None) -> str | None:
    """``--experiment NAME`` as a term of the filter (so it sorts, limits and pre-filters
    in SQL like any other)."""
    if experiment is None:
        return filter_
    from gitruns.query.ast import quote_string

    term = f"experiment = {quote_string(experiment)}"
    return f"{term} and ({filter_})" if filter_ else term


def _first_look(store: Store, rows: list[CachedRun]) -> None:
    """In a fresh clone: say how to see the team's runs, or that the listed ones are
    fetched copies (on stderr, so that scripts reading the table are not disturbed)."""
    from gitruns.sharing.first_look import first_look_hint

    hint = first_look_hint(store, rows)
    if hint:
        click.echo(hint, err=True)


def _full_records(store: Store, rows: list[CachedRun]) -> Iterator[Any]:
    """``--format json``: every run in full, as ``gitruns show --format json`` has it; from
    the cache's ``record`` column, or read for a run in progress (which has no cache row)."""
    from gitruns.format.layout import json_safe
    from gitruns.query.locate import load_row

    for row in rows:
        yield row.record() if row.record_data else json_safe(load_row(store, row).to_dict())


def _plain_record(store: Store, row: CachedRun) -> dict[str, Any]:
    """``--format yaml``: the run as ``gitruns show --format yaml`` has it (NaN stays a float,
    which YAML writes as ``.nan``)."""
    from gitruns.query.locate import load_row
    from gitruns.query.served import plain_record_of

    return plain_record_of(row) if row.record_data else load_row(store, row).to_dict()


def _yaml_item(item: dict[str, Any]) -> str:
    """One item of a YAML block sequence: the items written one after another make the
    list, so that a long listing is written as it is made."""
    from gitruns.display.text import as_yaml

    return as_yaml([item])


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


commands = [command]
