"""``gitruns metrics`` (a run's metric series) and ``gitruns plot`` (metrics in the terminal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gitruns.safetext import printable

if TYPE_CHECKING:
    from collections.abc import Iterator


@click.command("metrics")
@click.argument("run")
@click.argument("key", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def metrics_command(run: str, key: str | None, fmt: str) -> None:
    """Print the full series of metric KEY of RUN (step, time, value). Without KEY, list
    the run's metrics with their summaries.

    \b
    Examples:
      gitruns metrics baseline
      gitruns metrics baseline loss
      gitruns metrics baseline val/acc --format csv > acc.csv
    """
    import itertools
    import json

    from gitruns import layout
    from gitruns.api import open_store
    from gitruns.records import find_run as load

    found = load(open_store(), run)
    if key is None:
        _summaries(found.metrics, fmt)
        return
    # Streamed from git to the output: memory stays flat for a series of any length.
    rows = found.metric_rows(key)
    if fmt == "json":
        items = (
            f' {{\n  "step": {s},\n  "timestamp": {t},\n  "value": '
            f"{json.dumps(layout.json_safe(v))}\n }}"
            for s, t, v in rows
        )
        first = next(items, None)
        if first is None:
            click.echo("[]")
        else:
            _write_lines(["["], _json_items(itertools.chain([first], items)), "]")
        return
    if fmt == "csv":
        _write_lines(["step,timestamp,value"], (f"{s},{t},{v!r}" for s, t, v in rows))
        return
    from gitruns.render import format_number

    last_step = found.metrics.get(key, {}).get("last_step", 0)
    step_width = max(len("step"), len(str(last_step)))
    header = f"{'step':>{step_width}}  {'time (UTC)':<24}  {printable(key)}"
    lines = (
        f"{s:>{step_width}}  {layout.iso_time(t / 1000):<24}  {format_number(v)}"
        for s, t, v in rows
    )
    _write_lines([header, "-" * len(header)], lines)


def _json_items(items: Iterator[str]) -> Iterator[str]:
    """Items of a JSON list, each but the last followed by a comma (as json.dumps does)."""
    previous = None
    for item in items:
        if previous is not None:
            yield previous + ","
        previous = item
    if previous is not None:
        yield previous


def _write_lines(head: list[str], lines: Iterator[str], tail: str | None = None) -> None:
    """Write many lines in large chunks (a million points print in about a second)."""
    click.echo("\n".join(head))
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == 10_000:
            click.echo("\n".join(chunk))
            chunk = []
    if chunk:
        click.echo("\n".join(chunk))
    if tail is not None:
        click.echo(tail)


def _summaries(metrics: dict[str, dict[str, object]], fmt: str) -> None:
    import json

    from gitruns import layout

    fields = ["last", "min", "max", "count", "last_step"]
    if fmt == "json":
        click.echo(json.dumps(layout.json_safe(metrics), indent=2, sort_keys=True))
        return
    if fmt == "csv":
        click.echo("key," + ",".join(fields))
        for key, summary in sorted(metrics.items()):
            click.echo(printable(key) + "," + ",".join(repr(summary.get(f)) for f in fields))
        return
    from gitruns.render import format_number, tabulated

    rows = [
        [key, *(format_number(summary.get(f)) for f in fields)]
        for key, summary in sorted(metrics.items())
    ]
    if not rows:
        click.echo("this run has no metrics", err=True)
        return
    click.echo(tabulated(rows, ["key", *fields], "simple"))


@click.command("plot")
@click.argument("key")
@click.argument("runs", nargs=-1, required=True)
@click.option("--log-y", is_flag=True, help="Logarithmic y axis (values <= 0 are left out).")
@click.option(
    "--x",
    "x_axis",
    type=click.Choice(["step", "time"]),
    default="step",
    show_default=True,
    help="x axis: the step, or seconds since each run's first point.",
)
@click.option("--width", type=int, default=None, help="Columns (default: the terminal's).")
@click.option("--height", type=int, default=16, show_default=True, help="Rows of the plot.")
@click.option(
    "--style",
    type=click.Choice(["auto", "braille", "ascii"]),
    default="auto",
    show_default=True,
    help="braille: fine lines told apart by colour; ascii: one marker per run. auto: braille "
    "with colours on a terminal, ascii otherwise.",
)
def plot_command(
    key: str,
    runs: tuple[str, ...],
    log_y: bool,
    x_axis: str,
    width: int | None,
    height: int,
    style: str,
) -> None:
    """Draw metric KEY of one or more RUNS in the terminal, with a legend and the y range.

    \b
    Examples:
      gitruns plot loss baseline tuned
      gitruns plot val/acc lr-0.1 lr-0.01 lr-0.001 --log-y
      gitruns plot loss baseline --style ascii --width 60 > loss.txt
    """
    import shutil
    import sys

    from gitruns.api import open_store
    from gitruns.plot import chart, series_from
    from gitruns.records import find_run as load

    store = open_store()
    series = []
    for ref in runs:
        found = load(store, ref)
        label = f"{found.name} ({found.id[-8:]})"
        series.append(series_from(label, found.metric_rows(key), x_axis))
    tty = sys.stdout.isatty()
    braille = style == "braille" or (style == "auto" and tty)
    columns = width or shutil.get_terminal_size((80, 24)).columns
    text = chart(
        series,
        width=columns,
        height=height,
        log_y=log_y,
        braille=braille,
        colour=tty and braille,
        x_label="seconds" if x_axis == "time" else "step",
    )
    click.echo(printable(f"{key}{' (log scale)' if log_y else ''}"))
    click.echo(text, nl=False)


commands = [metrics_command, plot_command]
