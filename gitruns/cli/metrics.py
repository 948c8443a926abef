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
    import json

    from gitruns import layout
    from gitruns.api import open_store
    from gitruns.records import find_run as load

    found = load(open_store(), run)
    if key is None:
        _summaries(found.metrics, fmt)
        return
    points = found.metric_history(key)
    if fmt == "json":
        data = [{"step": p.step, "timestamp": p.timestamp, "value": p.value} for p in points]
        click.echo(json.dumps(layout.json_safe(data), indent=1))
        return
    if fmt == "csv":
        lines = (f"{p.step},{p.timestamp},{p.value!r}" for p in points)
        _write_lines(["step,timestamp,value"], lines)
        return
    from gitruns.render import format_number

    step_width = max([len("step"), *(len(str(p.step)) for p in points[-1:])])
    header = f"{'step':>{step_width}}  {'time (UTC)':<24}  {printable(key)}"
    rows = (
        f"{p.step:>{step_width}}  {layout.iso_time(p.timestamp / 1000):<24}  "
        f"{format_number(p.value)}"
        for p in points
    )
    _write_lines([header, "-" * len(header)], rows)


def _write_lines(head: list[str], lines: Iterator[str]) -> None:
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
    from gitruns.plot import Series, chart
    from gitruns.records import find_run as load

    store = open_store()
    series = []
    for ref in runs:
        found = load(store, ref)
        points = found.metric_history(key)
        start = points[0].timestamp if points else 0
        xs = [p.step if x_axis == "step" else (p.timestamp - start) / 1000 for p in points]
        label = f"{found.name} ({found.id[-8:]})"
        series.append(Series(label, [(x, p.value) for x, p in zip(xs, points, strict=True)]))
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
