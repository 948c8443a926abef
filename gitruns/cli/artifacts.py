"""``gitruns artifacts ls RUN``: a run's artifacts as a timeline (when logged, at which step)."""

from __future__ import annotations

import click


@click.group("artifacts")
def command() -> None:
    """Look at the artifacts of runs.

    \b
    Examples:
      gitruns artifacts ls baseline
      gitruns artifacts ls baseline --format json
    """


@command.command("ls")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def list_artifacts(run: str, fmt: str) -> None:
    """List RUN's artifacts in the order they were logged: time, step (given to
    log_artifact(path, step=N), or written in the name as in 'step=500' or
    'checkpoint-500/'), size, sha256 and path. Files stored by 'record --artifact' carry
    their modification time, so checkpoints read as a timeline.

    \b
    Examples:
      gitruns artifacts ls baseline
      gitruns artifacts ls 3f2a9c1d --format json | jq -r '.[-1].path'
    """
    import json
    import shutil

    from gitruns.display import text as render
    from gitruns.display.show import human_size
    from gitruns.format import layout
    from gitruns.query.resolve import find_run
    from gitruns.recording.artifacts import timeline
    from gitruns.recording.repository import open_store

    found = find_run(open_store(), run)
    ordered = timeline(found.artifacts)
    if fmt == "json":
        click.echo(json.dumps(layout.json_safe(ordered), indent=2, sort_keys=True))
        return
    if not ordered:
        click.echo(f"run {found.name} has no artifacts")
        return
    headers = ["logged", "step", "size", "sha256", "path"]
    rows = [
        [
            str(a.get("time") or "")[:19].replace("T", " "),
            "" if a.get("step") is None else str(a.get("step")),
            human_size(int(a.get("size") or 0)),
            str(a.get("sha256", ""))[:12],
            str(a.get("path", "")),
        ]
        for a in ordered
    ]
    width = shutil.get_terminal_size((100, 24)).columns
    click.echo(render.fit_table(headers, rows, width, keep=5))


commands = [command]
