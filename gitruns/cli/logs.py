"""``gitruns logs``: the output a recorded command wrote, also while it still runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitruns.query.locate import Location
    from gitruns.runs.model import Run
    from gitruns.storage import Store

FOLLOW_INTERVAL_S = 0.5
END_WAIT_S = 30.0  # how long to wait for a run that stopped to be written


@click.command("logs")
@click.argument("run")
@click.option(
    "--stdout", "stream", flag_value="stdout", default=True, help="Standard output (default)."
)
@click.option("--stderr", "stream", flag_value="stderr", help="Standard error instead.")
@click.option(
    "--tail", "-n", "tail", type=click.IntRange(min=0), default=None, help="Only the last N lines."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output until the run ends.")
def command(run: str, stream: str, tail: int | None, follow: bool) -> None:
    """Print what RUN's command wrote to stdout (or --stderr), as 'gitruns record'
    captured it. RUN may be in progress: --follow prints new output as it comes and
    returns when the run ends (Ctrl-C stops following; the run goes on).

    \b
    Examples:
      gitruns logs baseline
      gitruns logs baseline --stderr --tail 20
      gitruns logs 3f2a9c1d --follow
    """
    from gitruns.query.locate import load_located, locate
    from gitruns.recording.repository import open_store
    from gitruns.runs.logs import last_lines, read_log

    store = open_store()
    location = locate(store, run)
    if follow and location.run_dir is not None:
        _follow(store, location, stream, tail)
        return
    data = read_log(load_located(store, location), stream)
    _write(last_lines(data, tail) if tail is not None else data)


def _follow(store: Store, location: Location, stream: str, tail: int | None) -> None:
    import time

    from gitruns.errors import RunNotFoundError
    from gitruns.recording.staging_files import EXTRA_FILES_DIR
    from gitruns.runs.live import is_alive
    from gitruns.runs.logs import STREAMS, LogFollower, last_lines, read_log

    assert location.run_dir is not None
    path = location.run_dir / EXTRA_FILES_DIR / STREAMS[stream]
    if not path.exists() and is_alive(location.run_dir):
        raise RunNotFoundError(
            f"run {location.run_id} captures no {stream}",
            "output is captured when a command runs under 'gitruns record -- CMD'",
        )
    follower = LogFollower(path)
    first = follower.read_new()
    _write(last_lines(first, tail) if tail is not None else first)
    while location.run_dir.exists() and is_alive(location.run_dir):
        time.sleep(FOLLOW_INTERVAL_S)
        _write(follower.read_new())
    _write(follower.read_new())
    finished = _wait_until_written(store, location.run_id)
    if finished is not None:
        _write(follower.rest(read_log(finished, stream)))


def _wait_until_written(store: Store, run_id: str) -> Run | None:
    """The run once its commit exists (its recorder writes it as it ends; a run whose
    recorder died is written here, as any gitruns command would)."""
    import time

    from gitruns.errors import GitrunsError
    from gitruns.recording.recovery import recover_orphans
    from gitruns.runs.model import load_run

    deadline = time.monotonic() + END_WAIT_S
    while time.monotonic() < deadline:
        recover_orphans(store)
        commit = store.run_commit(run_id)
        if commit is not None:
            try:
                return load_run(store, run_id, commit)
            except GitrunsError:
                return None
        time.sleep(FOLLOW_INTERVAL_S)
    return None


def _write(data: bytes) -> None:
    import sys

    if data:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


commands = [command]
