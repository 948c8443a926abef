"""``gitruns metrics`` (a run's metric series) and ``gitruns plot`` (metrics in the terminal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from gitruns.display.safe_text import printable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gitruns.storage import Store


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
    the run's metrics with their summaries (last is the value at the highest step), the
    job's own first, then system/... ones. A run in progress shows its points so far.

    \b
    Examples:
      gitruns metrics baseline
      gitruns metrics baseline loss
      gitruns metrics baseline val/acc --format csv > acc.csv
    """
    import itertools
    import json

    from gitruns.format import layout
    from gitruns.query.resolve import find_run as load
    from gitruns.recording.repository import open_store

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
    from gitruns.display.fit import cut, terminal_width
    from gitruns.format.text import format_number

    last_step = found.metrics.get(key, {}).get("last_step", 0)
    step_width = max(len("step"), len(str(last_step)))
    header = cut(f"{'step':>{step_width}}  {'time (UTC)':<24}  {printable(key)}", terminal_width())
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

    from gitruns.format import layout

    fields = ["last", "min", "max", "count", "last_step"]
    if fmt == "json":
        click.echo(json.dumps(layout.json_safe(metrics), indent=2, sort_keys=True))
        return
    ordered = sorted(metrics.items(), key=lambda item: layout.metric_sort_key(item[0]))
    if fmt == "csv":
        click.echo("key," + ",".join(fields))
        for key, summary in ordered:
            click.echo(printable(key) + "," + ",".join(repr(summary.get(f)) for f in fields))
        return

    from gitruns.display.fit import render_table, terminal_width
    from gitruns.format.text import format_number

    rows = [[key, *(format_number(summary.get(f)) for f in fields)] for key, summary in ordered]
    if not rows:
        click.echo("this run has no metrics", err=True)
        return
    right = [False, *([True] * len(fields))]
    for line in render_table(["key", *fields], rows, terminal_width(), right=right):
        click.echo(line)


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
@click.option(
    "--follow",
    is_flag=True,
    help="Redraw as runs in progress log new points, until they end (on a terminal; "
    "piped, only the final plot is written).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between redraws with --follow.",
)
def plot_command(
    key: str,
    runs: tuple[str, ...],
    log_y: bool,
    x_axis: str,
    width: int | None,
    height: int,
    style: str,
    follow: bool,
    interval: float,
) -> None:
    """Draw metric KEY of one or more RUNS in the terminal, with a legend and the y range.
    Runs without KEY are named on stderr; the others are drawn. Runs in progress are
    drawn as far as they got; --follow redraws them until they end.

    \b
    Examples:
      gitruns plot loss baseline tuned
      gitruns plot val/acc lr-0.1 lr-0.01 lr-0.001 --log-y
      gitruns plot loss 3f2a9c1d --follow
      gitruns plot loss baseline --style ascii --width 60 > loss.txt
    """
    import sys
    import time

    from gitruns.display.fit import terminal_width
    from gitruns.query.locate import locate
    from gitruns.recording.repository import open_store

    store = open_store()
    ids = list(dict.fromkeys(locate(store, ref).run_id for ref in runs))
    tty = sys.stdout.isatty()
    braille = style == "braille" or (style == "auto" and tty)
    options = _PlotOptions(key, log_y, x_axis, width or terminal_width(), height, braille, tty)
    while True:
        text, missing, live = _frame(store, ids, options)
        if not (follow and live):
            break
        if tty:
            click.echo(CLEAR_SCREEN + text, nl=False)
        time.sleep(interval)
    click.echo((CLEAR_SCREEN if follow and tty else "") + text, nl=False)
    for label in missing:
        click.echo(f"note: {label} has no metric '{key}'", err=True)


CLEAR_SCREEN = "\x1b[H\x1b[2J"


class _PlotOptions:
    def __init__(
        self, key: str, log_y: bool, x_axis: str, width: int, height: int, braille: bool, tty: bool
    ) -> None:
        self.key, self.log_y, self.x_axis = key, log_y, x_axis
        self.width, self.height, self.braille, self.tty = width, height, braille, tty


def _frame(store: Store, ids: list[str], options: _PlotOptions) -> tuple[str, list[str], bool]:
    """One drawing of the runs that have the key: the text, the runs that lack it, and
    whether any run is still in progress. No run having the key is an error, unless one
    is in progress (its first point may be yet to come)."""
    from gitruns.display.plot import chart, series_from
    from gitruns.errors import RunNotFoundError
    from gitruns.query.locate import load_located, locate

    key = options.key
    series, missing, live = [], [], False
    for run_id in ids:
        found = load_located(store, locate(store, run_id))
        live = live or found.live
        label = f"{found.name} ({found.id[-8:]})"
        if key not in found.metrics:
            missing.append(label)
            continue
        # Streamed and bucketed: memory stays flat for a series of any length.
        series.append(series_from(label, found.metric_rows(key), options.x_axis))
    if not series and not live:
        raise RunNotFoundError(
            f"none of the runs has metric '{key}'",
            "list a run's metrics with 'gitruns metrics RUN'",
        )
    title = printable(f"{key}{' (log scale)' if options.log_y else ''}") + "\n"
    if not series:
        return f"{title}(waiting for the first point of {key})\n", missing, live
    text = chart(
        series,
        width=options.width,
        height=options.height,
        log_y=options.log_y,
        braille=options.braille,
        colour=options.tty and options.braille,
        x_label="seconds" if options.x_axis == "time" else "step",
    )
    return title + text, missing, live


commands = [metrics_command, plot_command]
