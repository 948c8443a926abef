"""``gitruns ui`` (a local web dashboard) and ``gitruns report`` (a file to share)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitruns.storage import Store

FORMATS = ["html", "markdown", "json"]  # gitruns.ui.report.FORMATS (not imported: start fast)


@click.command("ui")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Only this option can make the dashboard listen beyond "
    "this machine (e.g. 0.0.0.0), and it then prints a warning: there is no login.",
)
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option(
    "--allow-edit",
    is_flag=True,
    help="Allow tagging, noting and renaming runs from the page (read-only otherwise).",
)
def ui_command(port: int, host: str, no_browser: bool, allow_edit: bool) -> None:
    """Serve a dashboard of this repository's runs at http://127.0.0.1:8765/.

    The runs table takes the filter language of 'gitruns ls' (errors shown inline), sorts
    by any column, picks columns and groups rows; the URL holds the view. A run's page
    has its params, metric charts (zoom, smoothing, log scale, x = step or time), system
    metrics, logs, environment, code diff, artifacts, notes, tags, history and lineage.
    Compare overlays curves and shows a parallel-coordinates view of a sweep. Runs still
    running update live. Needs the 'ui' extra: pip install 'gitruns[ui]'.

    \b
    Examples:
      gitruns ui
      gitruns ui --port 0 --no-browser
      gitruns ui --allow-edit
      gitruns ui --host 0.0.0.0 --port 8080     # on the network: read the warning
    """
    from gitruns.recording.repository import open_store
    from gitruns.ui.security import is_loopback

    _check_installed()
    store = open_store()
    root = store.workdir or store.git_dir
    from gitruns.ui.server import bind, serve

    if not is_loopback(host):  # only ever from an explicit --host: the default is loopback
        exposed = "read every run" + (" and change tags, notes and names" if allow_edit else "")
        click.echo(
            f"gitruns: warning: listening on {host}: anyone who can reach this machine on "
            f"port {port or '(any free port)'} can {exposed}; there is no login",
            err=True,
        )

    sock = bind(host, port)

    def ready(url: str) -> None:
        mode = "editing allowed" if allow_edit else "read-only"
        click.echo(f"gitruns ui: {root} at {url} ({mode}); Ctrl-C to stop", err=True)
        if not no_browser:
            import threading
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    serve(str(root), sock, host, allow_edit, ready)
    click.echo("gitruns ui: stopped", err=True)  # Ctrl-C is how a server is meant to end


def _check_installed() -> None:
    import importlib

    from gitruns.errors import GitrunsError

    missing = []
    for module in ("starlette", "uvicorn"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise GitrunsError(
            f"gitruns ui needs {' and '.join(missing)}, which {verb} not installed",
            "pip install 'gitruns[ui]'",
        )


@click.command("report")
@click.argument("runs", nargs=-1)
@click.option("--filter", "-f", "filter_", metavar="EXPR", help="Also every run matching EXPR.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format. Default: from FILE's suffix (.html, .md, .json), else markdown.",
)
@click.option(
    "--output", "-o", metavar="FILE", default=None, help="Write to FILE instead of stdout."
)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="At most N runs.")
@click.option(
    "--base",
    metavar="REF",
    help="Instead of RUNS: the runs of BASE..HEAD against a baseline run on BASE, as "
    "gitruns review chooses them (docs/ci.md).",
)
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="With --base.")
@click.option(
    "--baseline",
    metavar="RULE",
    default="latest",
    show_default=True,
    help="With --base: latest, 'best FIELD', 'min FIELD' or a run.",
)
def report_command(
    runs: tuple[str, ...],
    filter_: str | None,
    fmt: str | None,
    output: str | None,
    limit: int | None,
    base: str | None,
    head: str,
    baseline: str,
) -> None:
    """Write a report of RUNS (ids, prefixes, suffixes or names) and of the runs matching
    --filter: the runs' params, metrics and what differs between them.

    html is one self-contained file (data, styles and scripts inline: it opens from disk
    with no network) with the dashboard's charts, compare table and parallel coordinates.
    markdown has tables and sparklines for a PR or a ticket; json holds the data.

    \b
    Examples:
      gitruns report baseline lr-0.5 -o report.html
      gitruns report --filter 'params.sweep = "lr"' -o sweep.html
      gitruns report baseline --format markdown >> pr-description.md
      gitruns report -f 'metrics.acc > 0.9' --format json -o best.json
      gitruns report --base origin/main --baseline 'best metrics.acc' -o pr.html
    """
    import json
    import sys

    from gitruns.recording.repository import open_store
    from gitruns.ui import report

    chosen = report.format_for(output, fmt)
    store = open_store()
    if base is not None:
        text, held = _branch_report(store, chosen, runs, base, head, filter_, baseline)
        _emit(text, output, f"{held} run{'' if held == 1 else 's'}", chosen)
        return
    selected = report.collect_runs(store, runs, filter_, limit)
    data = report.report_data(store, selected, filter_)
    if chosen == "json":
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    elif chosen == "html":
        text = report.html(data)
    else:
        text = report.markdown(data)
    if output is None:
        sys.stdout.write(text)
        return
    _write_atomic(output, text)
    count = f"{len(selected)} run{'' if len(selected) == 1 else 's'}"
    click.echo(f"gitruns: wrote {output} ({count}, {chosen})", err=True)


def _branch_report(
    store: Store,
    chosen: str,
    runs: tuple[str, ...],
    base: str,
    head: str,
    filter_: str | None,
    baseline: str,
) -> tuple[str, int]:
    import os

    from gitruns.errors import InvalidInputError
    from gitruns.review.links import web_links
    from gitruns.ui.branch_report import branch_report

    if runs:
        raise InvalidInputError("RUNS and --base both given", "give one: --base chooses the runs")
    links = web_links(os.environ, store.config_value("remote.origin.url"))
    return branch_report(store, chosen, base, head, filter_, baseline, links=links)


def _emit(text: str, output: str | None, count: str, chosen: str) -> None:
    import sys

    if output is None:
        sys.stdout.write(text)
        return
    _write_atomic(output, text)
    click.echo(f"gitruns: wrote {output} ({count}, {chosen})", err=True)


def _write_atomic(path: str, text: str) -> None:
    import os
    import tempfile
    from pathlib import Path

    from gitruns.errors import GitrunsError

    target = Path(path)
    if not target.parent.is_dir():
        raise GitrunsError(f"no folder {target.parent}", "create it first")
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(handle, 0o666 & ~umask)  # as a plain open() would create it
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


commands = [ui_command, report_command]
