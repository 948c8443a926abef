"""``gitruns remote setup``: make plain ``git push`` / ``git fetch`` carry runs."""

from __future__ import annotations

import click


@click.group("remote")
def command() -> None:
    """Configure git remotes for runs.

    \b
    Examples:
      gitruns remote setup
      gitruns remote setup upstream --undo
    """


@command.command("setup")
@click.argument("remote", default="origin")
@click.option("--undo", is_flag=True, help="Remove what setup added (fetched runs stay).")
def setup(remote: str, undo: bool) -> None:
    """Write refspecs so that plain 'git push' sends runs (and still the current branch)
    and plain 'git fetch' brings the remote's runs into refs/remote-runs/REMOTE/.

    Idempotent. Nothing is forced: a run changed on both sides is refused by git, never
    overwritten; 'gitruns pull' merges it. 'git fetch --prune' prunes only
    refs/remote-runs/REMOTE/, never a local run. Note that plain 'git push' then skips
    the unpublished-code check that 'gitruns push' does.

    \b
    Examples:
      gitruns remote setup            # origin
      gitruns remote setup upstream
      gitruns remote setup --undo
    """
    from gitruns.recording.repository import open_store
    from gitruns.sharing import setup_remote, undo_setup

    store = open_store()
    change = undo_setup(store, remote) if undo else setup_remote(store, remote)
    lines = [f"+ {line}" for line in change.added] + [f"- {line}" for line in change.removed]
    for line in lines:
        click.echo(line)
    if not lines:
        state = "not set up" if undo else "already set up"
        click.echo(f"remote '{remote}' is {state} for runs; nothing changed")
    elif not undo:
        click.echo(f"plain 'git push' and 'git fetch' now carry runs to and from '{remote}'")


commands = [command]
