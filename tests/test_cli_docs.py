"""Every command is documented: --help has an example, and docs/cli.md is current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click
import pytest

from gitruns.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_commands() -> list[tuple[str, click.Command]]:
    return [(" ".join(path), command) for path, command in _generator().walk(cli, ["gitruns"])]


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=[n for n, _ in all_commands()])
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    text = command.help or ""
    assert text.strip(), f"{name} has no help text"
    if not isinstance(command, click.Group) or name == "gitruns":
        assert "Example" in text, f"{name} --help shows no example"


def test_cli_reference_is_current() -> None:
    expected = _generator().render()
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: run `python scripts/gen_cli_docs.py`"


def test_every_command_is_mentioned_in_the_readme_or_a_guide() -> None:
    docs = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")
    docs += (ROOT / "README.md").read_text()
    for name, command in all_commands():
        if name == "gitruns" or isinstance(command, click.Group):
            continue
        assert name in docs, f"`{name}` is not explained in README.md or docs/ (besides cli.md)"
