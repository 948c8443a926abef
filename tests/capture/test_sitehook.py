"""The child-side hook itself: how it decides what the program's command line is, how it
turns parsed values into plain data, and that its failures never reach the program."""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests._record_helpers import only_run, record

PY = sys.executable
HOOK = Path(__file__).resolve().parents[2] / "gitruns" / "_sitehook"


def _capture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_capture_for_tests", HOOK / "_gitruns_capture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


capture = _capture_module()


@pytest.mark.parametrize(
    ("argv", "args", "expected"),
    [
        (["p", "--lr", "1"], None, True),
        (["p", "--lr", "1"], ["--lr", "1"], True),
        (["p", "-c", "x", "--lr", "1"], ["--lr", "1"], True),  # what a first parser left
        (["p", "--lr", "1"], ["--lr", "2"], False),
        (["p", "--lr", "1"], ["1", "--lr"], False),  # not in order
        (["p", "--lr", "1"], [], False),  # parse_args([]): defaults, not the command line
        (["p"], [], True),
    ],
)
def test_what_counts_as_the_command_line(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], args: list[str] | None, expected: bool
) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    assert capture.from_command_line(args) is expected


class Device:
    def __str__(self) -> str:
        return "cuda:1"


class Color(enum.Enum):
    RED = "red"
    ODD = (1, 2)


def test_parsed_values_become_plain_data(tmp_path: Path) -> None:
    with open(tmp_path / "f.txt", "w") as handle:
        values = {
            "path": tmp_path / "data",
            "color": Color.RED,
            "odd": Color.ODD,
            "func": test_parsed_values_become_plain_data,
            "file": handle,
            "set": {3, 1, 2},
            "tuple": (1, "a"),
            "bytes": b"caf\xc3\xa9",
            "nested": {1: [None, 1.5]},
            "object": Device(),
        }
        plain = capture.plain(values)
    assert plain["path"] == str(tmp_path / "data")
    assert plain["color"] == "red" and plain["odd"] == "ODD"
    assert plain["func"] == f"{__name__}.test_parsed_values_become_plain_data"
    assert plain["file"] == str(tmp_path / "f.txt")
    assert plain["set"] == [1, 2, 3] and plain["tuple"] == [1, "a"]
    assert plain["bytes"] == "café" and plain["nested"] == {"1": [None, 1.5]}
    assert plain["object"] == "cuda:1"
    json.dumps(plain)


def test_a_failure_inside_the_hook_is_a_warning_not_a_broken_program(repo: Path) -> None:
    script = (
        "import argparse\n"
        "class Odd(argparse.Namespace):\n"
        "    @property\n"
        "    def __dict__(self):\n"
        "        raise RuntimeError('no dict here')\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--lr', type=float, default=0.1)\n"
        "ns = p.parse_args(namespace=Odd())\n"
        "print('still running', ns.lr)\n"
    )
    result = record(repo, "--no-system-metrics", "--", PY, "-c", script, "--lr", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"still running 2.0\n"
    assert (
        b"gitruns: warning: argument capture: recording argparse arguments: "
        b"RuntimeError: no dict here" in result.stderr
    )
    assert only_run(repo)["params"] == {"lr": 2}  # argv, since the program reported nothing


def test_a_failing_sitecustomize_of_the_user_fails_as_without_gitruns(
    repo: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("raise RuntimeError('boom in user sitecustomize')\n")
    script = "import argparse; p = argparse.ArgumentParser(); p.add_argument('--n'); p.parse_args()"
    env = {**os.environ, "PYTHONPATH": str(site)}
    plain = subprocess.run([PY, "-c", script, "--n", "1"], env=env, capture_output=True, cwd=repo)
    result = record(
        repo,
        "--no-system-metrics",
        "--",
        PY,
        "-c",
        script,
        "--n",
        "1",
        env={"PYTHONPATH": str(site)},
    )
    assert b"boom in user sitecustomize" in plain.stderr
    assert result.returncode == plain.returncode == 0
    assert plain.stderr in result.stderr  # the same message, and nothing else from the child
    assert only_run(repo)["param_sources"] == {"n": "argparse"}
