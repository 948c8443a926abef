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
@click.option(
    "--artifacts",
    "artifacts_remote",
    default=None,
    metavar="NAME",
    help="Keep the artifacts of runs pushed to REMOTE in the object store NAME "
    "(gitruns artifacts remote add) instead of the remote's Git LFS endpoint.",
)
def setup(remote: str, undo: bool, artifacts_remote: str | None) -> None:
    """Write refspecs so that plain 'git push' sends runs (and still the current branch)
    and plain 'git fetch' brings the remote's runs into refs/remote-runs/REMOTE/.

    Idempotent. Nothing is forced: a run changed on both sides is refused by git, never
    overwritten; 'gitruns pull' merges it. 'git fetch --prune' prunes only
    refs/remote-runs/REMOTE/, never a local run. Note that plain 'git push' then skips
    the unpublished-code check that 'gitruns push' does.

    It also writes a pre-push hook (a hook you had is kept and runs first) so that
    plain 'git push' uploads the artifacts of the runs it pushes, through the remote's
    Git LFS endpoint (needs git-lfs) or the object store given with --artifacts.

    \b
    Examples:
      gitruns remote setup            # origin
      gitruns remote setup upstream
      gitruns remote setup --undo
      gitruns remote setup origin --artifacts team-s3
    """
    from gitruns.artifacts import hook
    from gitruns.artifacts.lfs import INSTALL_HINT, lfs_installed
    from gitruns.artifacts.remotes import bind
    from gitruns.recording.repository import open_store
    from gitruns.sharing import setup_remote, undo_setup
    from gitruns.sharing.remotes import remotes_set_up

    store = open_store()
    change = undo_setup(store, remote) if undo else setup_remote(store, remote)
    if undo:
        bind(store, remote, None)
        # One hook serves every remote: it goes when the last remote set up is undone.
        last = not remotes_set_up(store)
        hooked = hook.remove_hook(store) if last else hook.HookChange([], [])
    else:
        if artifacts_remote:
            bind(store, remote, artifacts_remote)
            change.added.append(f"gitruns.{remote}.artifacts = {artifacts_remote}")
        hooked = hook.install_hook(store)
    change.added += hooked.added
    change.removed += hooked.removed
    lines = [f"+ {line}" for line in change.added] + [f"- {line}" for line in change.removed]
    for line in lines:
        click.echo(line)
    if not lines:
        state = "not set up" if undo else "already set up"
        click.echo(f"remote '{remote}' is {state} for runs; nothing changed")
    elif not undo:
        click.echo(f"plain 'git push' and 'git fetch' now carry runs to and from '{remote}'")
    if hooked.note:
        click.echo(f"note: {hooked.note}")
    if not undo and not artifacts_remote and not lfs_installed():
        click.echo(
            "note: git-lfs is not installed: runs will be pushed with pointers to their "
            f"artifacts but not the files; {INSTALL_HINT}, then upload with "
            "'gitruns artifacts push'"
        )


commands = [command]
