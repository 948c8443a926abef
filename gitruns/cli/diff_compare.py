"""``gitruns diff`` (two runs in depth) and ``gitruns compare`` (many runs side by side)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitruns.runs.model import Run
    from gitruns.storage import Store

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format; markdown is ready to paste into a pull request.",
)
_SYSTEM = click.option(
    "--system",
    is_flag=True,
    help="Include system metrics (system/...: CPU, memory, disk, network, GPU).",
)
_ONLY_CHANGED = click.option(
    "--only-changed/--all",
    "only_changed",
    default=True,
    show_default=True,
    help="Show only what differs (default), or every field.",
)


@click.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@_FORMAT
@_ONLY_CHANGED
@_SYSTEM
def diff_command(run_a: str, run_b: str, fmt: str, only_changed: bool, system: bool) -> None:
    """Show what changed from RUN_A to RUN_B: params, metrics (delta and percent change of
    the last value), tags, status and duration, environment (python, OS, GPUs, packages
    added/removed/upgraded/downgraded) and code (the commits between the two code commits
    and a git diff --stat). System metrics are left out unless --system. Text fits the
    terminal (COLUMNS; 80 when piped).

    \b
    Examples:
      gitruns diff baseline tuned
      gitruns diff baseline tuned --all --system
      gitruns diff baseline tuned --format markdown | gh pr comment --body-file -
    """
    from gitruns.display import diff as render_diff
    from gitruns.runs.compare import diff_runs

    store, (a, b) = _load(run_a, run_b)
    diff = diff_runs(store, a, b, system=system)
    if fmt == "text":
        from gitruns.display.fit import terminal_width

        click.echo(render_diff.diff_text(diff, only_changed, terminal_width()), nl=False)
        return
    render = {"markdown": render_diff.diff_markdown, "json": render_diff.diff_json}[fmt]
    click.echo(render(diff, only_changed), nl=False)


@click.command("compare")
@click.argument("runs", nargs=-1, required=True)
@_FORMAT
@_ONLY_CHANGED
@_SYSTEM
def compare_command(runs: tuple[str, ...], fmt: str, only_changed: bool, system: bool) -> None:
    """Show RUNS side by side, one column each: status, duration, params, metrics (last
    value), tags, environment and code commit; by default only the rows that differ,
    system metrics only with --system. Text fits the terminal (COLUMNS; 80 when piped).

    \b
    Examples:
      gitruns compare lr-0.1 lr-0.01 lr-0.001
      gitruns compare $(gitruns ls -q -n 4) --format markdown
    """
    from gitruns.display import diff as render_diff
    from gitruns.runs.compare import compare_runs

    _store, found = _load(*runs)
    if len(found) < 2:
        from gitruns.errors import InvalidInputError

        raise InvalidInputError("compare needs at least two runs", "name two or more runs")
    rows = compare_runs(found, system=system)
    if fmt == "json":
        click.echo(render_diff.compare_json(found, rows, only_changed), nl=False)
    elif fmt == "markdown":
        click.echo(render_diff.compare_table(found, rows, only_changed, True), nl=False)
    else:
        from gitruns.display.fit import terminal_width

        table = render_diff.compare_table(found, rows, only_changed, False, terminal_width())
        click.echo(table, nl=False)


def _load(*refs: str) -> tuple[Store, list[Run]]:
    from gitruns.query.resolve import find_run as load
    from gitruns.recording.repository import open_store

    store = open_store()
    return store, [load(store, ref) for ref in refs]


commands = [diff_command, compare_command]
