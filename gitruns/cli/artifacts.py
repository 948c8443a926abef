"""``gitruns artifacts``: ls, get, push, verify, gc, remote add/list/remove."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("artifacts")
def command() -> None:
    """Artifacts of runs: where they are, download, upload, check, clean up.

    Content travels through the git remote's Git LFS endpoint (plain 'git push' uploads it
    once 'gitruns remote setup' ran), or an object store added with
    'gitruns artifacts remote add'. See docs/artifacts.md.

    \b
    Examples:
      gitruns artifacts ls best-lr
      gitruns artifacts get best-lr model.npz -o models/
      gitruns artifacts push
    """


@command.command("ls")
@click.argument("run")
@click.option("--remote", default=None, help="A git remote or an artifacts remote to check.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def ls_command(run: str, remote: str | None, fmt: str) -> None:
    """List RUN's artifacts in the order they were logged, and where each one is: here (in
    the local store), remote (to download from the run's remote) or missing (the object
    store lacks it, or there is no remote). A git remote's LFS endpoint is not asked; an
    object store is. The step is the one given to log_artifact(path, step=N) or written in
    the name ('step=500', 'checkpoint-500/'); files stored by 'record --artifact' carry
    their modification time, so checkpoints read as a timeline.

    \b
    Examples:
      gitruns artifacts ls best-lr
      gitruns artifacts ls 3f2a9c1d --format json | jq -r '.[-1].path'
    """
    import shutil

    from gitruns.artifacts.service import list_artifacts
    from gitruns.display import text as render
    from gitruns.display.show import human_size
    from gitruns.recording.artifacts import timeline
    from gitruns.recording.repository import open_store

    located, states = list_artifacts(open_store(), run, remote)
    by_path = {s.file.path: s for s in states}
    ordered = [
        (pointer, by_path[str(pointer.get("path"))])
        for pointer in timeline(located.run.artifacts)
        if str(pointer.get("path")) in by_path
    ]
    if fmt == "json":
        rows = [
            {
                "path": s.file.path,
                "sha256": s.file.sha256,
                "size": s.file.size,
                "time": pointer.get("time"),
                "step": pointer.get("step"),
                "state": s.state,
                "where": s.where,
            }
            for pointer, s in ordered
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not ordered:
        click.echo(f"run {located.run.name} ({located.run.id[-8:]}) has no artifacts")
        return
    headers = ["logged", "step", "size", "state", "sha256", "path"]
    rows_text = [
        [
            str(pointer.get("time") or "")[:19].replace("T", " "),
            "" if pointer.get("step") is None else str(pointer.get("step")),
            human_size(s.file.size),
            s.state,
            s.file.sha256[:12],
            s.file.path,
        ]
        for pointer, s in ordered
    ]
    width = shutil.get_terminal_size((100, 24)).columns
    click.echo(render.fit_table(headers, rows_text, width, keep=6))
    away = sorted({s.where for _, s in ordered if s.state != "here"})
    if away:
        click.echo(f"not here: {', '.join(away)}; gitruns artifacts get {located.run.id[-8:]}")


@command.command("get")
@click.argument("run")
@click.argument("paths", nargs=-1)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to place the files in (keeping their paths).",
)
@click.option("--remote", default=None, help="Download from this git remote or artifacts remote.")
@click.option("--force", is_flag=True, help="Overwrite files in the output folder that differ.")
@click.option("--no-place", is_flag=True, help="Only download into the local store.")
def get_command(
    run: str, paths: tuple[str, ...], output: Path, remote: str | None, force: bool, no_place: bool
) -> None:
    """Download RUN's artifacts (all, or the PATHS given: files or folders), verify each
    one's sha256, and place copies under the output folder. Objects already here are not
    downloaded again; interrupted downloads resume.

    \b
    Examples:
      gitruns artifacts get best-lr
      gitruns artifacts get best-lr model.npz -o models/
      gitruns artifacts get 3f2a9c1d checkpoints/ --remote team-s3
    """
    from gitruns.artifacts.service import get_artifacts
    from gitruns.cli.progress import progress_for_terminal
    from gitruns.display.show import human_size
    from gitruns.recording.repository import open_store

    progress, echo = progress_for_terminal("downloading")
    _located, report = get_artifacts(
        open_store(),
        run,
        list(paths),
        None if no_place else output,
        remote=remote,
        force=force,
        progress=progress,
        echo=echo,
    )
    click.echo(
        f"downloaded {len(report.moved)} object(s), {human_size(report.bytes_moved)}, from "
        f"{report.destination}; {len(report.already)} already here"
    )
    for path in report.placed:
        click.echo(f"  {path}")


@command.command("push")
@click.argument("runs", nargs=-1)
@click.option(
    "--remote", default=None, help="A git remote (its LFS endpoint) or an artifacts remote."
)
def push_command(runs: tuple[str, ...], remote: str | None) -> None:
    """Upload the artifacts of RUNS (default: every local run) that are here. What the
    remote has already is skipped. Plain 'git push' does this for the runs it pushes once
    'gitruns remote setup' ran; this command is for runs pushed before, or without git-lfs.

    \b
    Examples:
      gitruns artifacts push
      gitruns artifacts push best-lr --remote team-s3
    """
    from gitruns.artifacts.service import push_artifacts
    from gitruns.cli.progress import progress_for_terminal
    from gitruns.display.show import human_size
    from gitruns.recording.repository import open_store

    progress, echo = progress_for_terminal("uploading")
    report = push_artifacts(
        open_store(), list(runs) or None, remote=remote, progress=progress, echo=echo
    )
    click.echo(
        f"uploaded {len(report.moved)} object(s), {human_size(report.bytes_moved)}, to "
        f"{report.destination}; {len(report.already)} already there"
    )
    if report.missing:
        click.echo(
            f"{len(report.missing)} object(s) are not here and were not uploaded, "
            f"e.g. {report.missing[0].path}"
        )


@command.command("verify")
@click.argument("runs", nargs=-1)
def verify_command(runs: tuple[str, ...]) -> None:
    """Hash the local copy of every artifact of RUNS (default: every run, local and
    fetched) and report any whose bytes no longer match its sha256. Exit code 1 if any.

    \b
    Examples:
      gitruns artifacts verify
      gitruns artifacts verify best-lr
    """
    from gitruns.artifacts.service import verify_artifacts
    from gitruns.cli.errors import fail
    from gitruns.display.show import human_size
    from gitruns.recording.repository import open_store

    report = verify_artifacts(open_store(), list(runs) or None)
    for f, path in report.damaged:
        click.echo(f"damaged  {f.path}  {path}")
    click.echo(
        f"checked {report.checked} object(s), {human_size(report.bytes_checked)}: "
        f"{len(report.damaged)} damaged; {report.not_here} not here"
    )
    if report.damaged:
        fail(
            f"{len(report.damaged)} artifact(s) are damaged",
            "delete those files, then download good copies with 'gitruns artifacts get RUN'",
        )


@command.command("gc")
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be removed; change nothing.")
def gc_command(dry_run: bool) -> None:
    """Remove artifact objects that no run references: no local, deleted (in the trash),
    fetched or in-progress run. Only objects gitruns stored are considered (the LFS store
    may hold your own LFS files too); objects younger than an hour are kept.

    \b
    Examples:
      gitruns artifacts gc --dry-run
      gitruns artifacts gc
    """
    from gitruns.display.show import human_size
    from gitruns.recording.repository import open_store
    from gitruns.runs.gc import collect_artifacts

    report = collect_artifacts(open_store(), dry_run=dry_run)
    for digest in report.artifact_digests:
        click.echo(f"{'would remove' if dry_run else 'removed'} {digest}")
    would = "would remove" if dry_run else "removed"
    click.echo(
        f"{would} {report.artifacts_removed} unreferenced object(s), "
        f"{human_size(report.artifact_bytes)}"
    )
    if report.artifacts_skipped:
        click.echo(f"left alone: {report.artifacts_skipped}")


@command.group("remote")
def remote_group() -> None:
    """Object stores by URL for artifacts (s3://, gs://, az://, file://, sftp://).

    \b
    Examples:
      gitruns artifacts remote add team s3://bucket/ml-artifacts
      gitruns artifacts remote list
    """


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An fsspec storage option (repeatable), e.g. endpoint_url=http://127.0.0.1:9000.",
)
@click.option(
    "--for",
    "git_remote",
    default=None,
    metavar="REMOTE",
    help="Use it for the runs of this git remote (plain git push uploads there).",
)
def remote_add(name: str, url: str, options: tuple[str, ...], git_remote: str | None) -> None:
    """Add an object store NAME at URL, kept in .git/config. Credentials are your own
    (AWS/GCP/Azure environment and config files, ssh config for sftp). Needs the extra:
    pip install 'gitruns[artifacts]' (plus s3fs, gcsfs or adlfs for the cloud).

    \b
    Examples:
      gitruns artifacts remote add team s3://bucket/ml-artifacts --for origin
      gitruns artifacts remote add shared file:///mnt/shared/artifacts
      gitruns artifacts remote add minio s3://ml -o endpoint_url=http://127.0.0.1:9000
    """
    from gitruns.artifacts.remotes import add_remote, bind
    from gitruns.cli.errors import fail
    from gitruns.recording.repository import open_store

    parsed = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            fail(
                f"option {option!r} is not KEY=VALUE", "e.g. -o endpoint_url=http://127.0.0.1:9000"
            )
        parsed[key] = value
    store = open_store()
    added = add_remote(store, name, url, parsed)
    click.echo(f"added artifacts remote '{added.name}': {added.url}")
    if git_remote:
        bind(store, git_remote, name)
        click.echo(f"runs pushed to '{git_remote}' keep their artifacts in '{name}'")


@remote_group.command("list")
def remote_list() -> None:
    """List object-store remotes (git remotes' LFS endpoints need no entry).

    \b
    Examples:
      gitruns artifacts remote list
    """
    from gitruns.artifacts.remotes import bound_store, list_remotes
    from gitruns.recording.repository import open_store

    store = open_store()
    bound = {bound_store(store, r): r for r in store.remote_names()}
    for remote in list_remotes(store):
        options = "".join(f" -o {k}={v}" for k, v in sorted(remote.options.items()))
        used = f"  (for {bound[remote.name]})" if remote.name in bound else ""
        click.echo(f"{remote.name}\t{remote.url}{options}{used}")


@remote_group.command("remove")
@click.argument("name")
def remote_remove(name: str) -> None:
    """Forget the object store NAME (nothing in it is deleted).

    \b
    Examples:
      gitruns artifacts remote remove team
    """
    from gitruns.artifacts.remotes import remove_remote
    from gitruns.recording.repository import open_store

    remove_remote(open_store(), name)
    click.echo(f"removed artifacts remote '{name}'")


@command.command("pre-push", hidden=True)
@click.argument("remote")
@click.argument("url", required=False)
def pre_push_command(remote: str, url: str | None) -> None:
    """Called by the pre-push hook: upload the artifacts of the pushed runs (git's pre-push
    lines on stdin) to REMOTE's LFS endpoint, or the object store bound to it.

    \b
    Examples:
      echo "refs/runs/ID SHA refs/runs/ID 0000..." | gitruns artifacts pre-push origin
    """
    from gitruns.artifacts.probe import pushed_run_commits, with_artifacts
    from gitruns.sharing.lightrepo import open_for_transfer
    from gitruns.sharing.push_receipt import record_handled

    lines, store = sys.stdin.read(), open_for_transfer()
    commits = pushed_run_commits(lines)
    # One bulk read of the pushed runs; nothing more loads when none has artifacts.
    if not with_artifacts(store, commits):
        # under `gitruns push`: it need not look for artifacts in these runs again
        record_handled(store.gitruns_dir, remote, commits)
        return
    from gitruns.artifacts.service import pre_push_upload
    from gitruns.display.show import human_size

    report, note = pre_push_upload(store, remote, lines, terminal=sys.stderr.isatty())
    if not note:  # uploaded; a note (git-lfs missing...) is the push's to repeat, as before
        record_handled(store.gitruns_dir, remote, commits)
    if report is not None and report.moved:
        click.echo(
            f"gitruns: uploaded the artifacts of the pushed runs to {report.destination}: "
            f"{len(report.moved)} object(s), {human_size(report.bytes_moved)} "
            "(what the remote had was skipped)",
            err=True,
        )
    if note:
        click.echo(f"gitruns: note: {note}", err=True)


commands = [command]
