"""``gitruns tag``, ``note``, ``rename``, ``history``: annotate recorded runs, audited."""

from __future__ import annotations

import click

from gitruns.display.safe_text import printable


@click.command("tag")
@click.argument("run")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--delete", "-d", is_flag=True, help="Delete the tags KEY... instead of setting.")
def tag_command(run: str, pairs: tuple[str, ...], delete: bool) -> None:
    """Set tags on RUN (or delete them with --delete). Each change is a commit on the
    run's ref, so 'gitruns history RUN' shows who changed what.

    \b
    Examples:
      gitruns tag baseline dataset=v2 reviewed=yes
      gitruns tag --delete baseline reviewed
    """
    from gitruns import api
    from gitruns.errors import InvalidInputError

    if delete:
        found = api.delete_run_tags(run, pairs)
        click.echo(printable(f"{found.name}: tags now {_tags_text(found.tags)}"))
        return
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"'{pair}' is not KEY=VALUE", "write tags as key=value")
        tags[key] = value
    found = api.set_run_tags(run, tags)
    click.echo(printable(f"{found.name}: tags now {_tags_text(found.tags)}"))


def _tags_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "(none)"


@click.command("note")
@click.argument("run")
@click.argument("text", nargs=-1, required=True)
def note_command(run: str, text: tuple[str, ...]) -> None:
    """Append a note (TEXT, your git identity, the time) to RUN. Use - to read the note
    from standard input.

    \b
    Examples:
      gitruns note baseline "loss plateaus after epoch 3; try a lower lr"
      git log -1 --format=%B | gitruns note baseline -
    """
    import sys

    from gitruns import api

    body = sys.stdin.read() if text == ("-",) else " ".join(text)
    found = api.add_run_note(run, body)
    click.echo(printable(f"{found.name}: {len(found.notes)} note(s)"))


@click.command("rename")
@click.argument("run")
@click.argument("name")
def rename_command(run: str, name: str) -> None:
    """Give RUN a new NAME (the id never changes).

    \b
    Examples:
      gitruns rename 3f2a9c1d baseline-v2
    """
    from gitruns import api

    found = api.rename_run(run, name)
    click.echo(printable(f"{found.id}: now named {found.name}"))


@click.command("history")
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def history_command(run: str, fmt: str) -> None:
    """Show who changed RUN, what and when: its recording, then every tag, note and
    rename, oldest first. A merge made by 'gitruns pull' shows what it brought in
    (compared with the run as it was here before the merge).

    \b
    Examples:
      gitruns history baseline
      gitruns history baseline --format json
    """
    import json

    from gitruns import api
    from gitruns.display.fit import cut, terminal_width
    from gitruns.format import layout

    entries = api.run_history(run)
    if fmt == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    width = terminal_width()
    for entry in entries:
        when = layout.iso_time(entry.time)[:16].replace("T", " ")
        click.echo(
            cut(printable(f"{when}  {entry.kind}  {entry.commit[:12]}  {entry.author}"), width)
        )
        for change in entry.changes:
            click.echo(cut(printable(f"    {change}"), width))


commands = [tag_command, note_command, rename_command, history_command]
