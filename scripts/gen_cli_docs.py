"""Write docs/cli.md from the commands' own --help texts (a test checks it is current).

python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitruns.cli.main import cli  # noqa: E402

HEADER = """# CLI reference

Generated from each command's `--help` by `python scripts/gen_cli_docs.py`; a test fails when
this page and the commands disagree. Every command accepts `-h/--help`. Errors print
`gitruns: error: <what happened>; <what to do>` on stderr and exit 1 (2 for usage errors, 130
when interrupted); `--debug` or `GITRUNS_DEBUG=1` adds the traceback.
"""


def help_text(command: click.Command, path: list[str]) -> str:
    with click.Context(
        command, info_name=" ".join(path), terminal_width=100, max_content_width=100
    ) as ctx:
        return command.get_help(ctx)


def walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in sorted(command.list_commands(ctx)):  # lazy groups load commands here
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            found += walk(sub, [*path, name])
    return found


def render() -> str:
    parts = [HEADER]
    for path, command in walk(cli, ["gitruns"]):
        parts.append(
            f"\n## `{' '.join(path)}`\n\n```text\n{help_text(command, path).rstrip()}\n```\n"
        )
    return "".join(parts)


def main() -> None:
    (ROOT / "docs" / "cli.md").write_text(render())


if __name__ == "__main__":
    main()
