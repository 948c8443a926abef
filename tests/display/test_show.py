"""``gitruns show``: one run, readable, and as JSON/YAML with stable keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _compare_helpers import ID_A, ID_B, build_pair, check_golden, make_run, mask
from conftest import gitruns_cli

import gitruns
from gitruns.display.plot import downsample, sparkline


@pytest.fixture
def pair(repo: Path) -> dict[str, str]:
    return build_pair(repo)


def test_show_golden(repo: Path, pair: dict[str, str]) -> None:
    result = gitruns_cli(repo, "show", "tuned")
    assert result.returncode == 0, result.stderr
    check_golden("show.txt", mask(result.stdout, pair))


def test_show_json_and_yaml_keep_their_keys(repo: Path, pair: dict[str, str]) -> None:
    data = json.loads(gitruns_cli(repo, "show", ID_B, "--format", "json").stdout)
    expected = {
        "id",
        "commit",
        "origin",
        "name",
        "status",
        "start_time",
        "end_time",
        "duration_s",
        "exit_code",
        "error",
        "user",
        "host",
        "params",
        "param_sources",
        "metric_sources",
        "tags",
        "notes",
        "metrics",
        "git",
        "artifacts",
        "parents",
        "inputs",
        "command",
        "environment",
        "hydra",
        "resources",
        "schema_version",
        "experiment",
    }
    assert set(data) == expected
    assert data["metrics"]["unstable"]["last"] == "NaN"
    assert data["parents"] == [ID_A]
    from_yaml = yaml.safe_load(gitruns_cli(repo, "show", ID_B, "--format", "yaml").stdout)
    assert from_yaml["params"] == data["params"]


def test_show_notes_command_and_missing_parent(repo: Path) -> None:
    parent = make_run("parent")
    child = make_run("child", parents=(parent,))
    gitruns.add_run_note(child, "checked by hand\nall fine")
    assert gitruns_cli(repo, "rm", "--yes", parent).returncode == 0
    text = gitruns_cli(repo, "show", "child").stdout
    assert "notes\n" in text and "    checked by hand\n    all fine\n" in text
    assert f"parent  {parent} (not in this repository)" in text


def test_show_unknown_run(repo: Path) -> None:
    result = gitruns_cli(repo, "show", "nope")
    assert result.returncode == 1 and result.stderr.startswith("gitruns: error: no run matches")


def test_sparkline_and_downsample() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, float("nan"), 1.0]) == "▅ ▅"
    assert sparkline([float("nan")]) == ""
    assert len(sparkline(list(range(10_000)), 20)) == 20
    assert downsample([1.0, 3.0, float("nan"), float("nan")], 2)[0] == 2.0
