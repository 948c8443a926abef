"""``gitruns log-metric / log-param / set-tag`` parsed without click (cli/log_argv.py):
help, usage errors and refusals are exactly click's, inside and outside a recorded run,
and the plain forms never import click."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _record_helpers import record

from gitruns.cli.log_argv import _plain_call

PY = sys.executable

# Every form a caller may type; the plain ones run without click, the rest go to click.
ARGVS = [
    ["log-metric", "--help"],
    ["log-param", "--help"],
    ["set-tag", "-h"],
    ["log-metric"],
    ["log-metric", "loss"],
    ["log-metric", "loss", "-0.5"],
    ["log-metric", "-loss", "0.5"],
    ["log-metric", "loss", "0.5", "--step", "-1"],
    ["log-metric", "loss", "0.5", "--step", "x"],
    ["log-metric", "loss", "0.5", "--step"],
    ["log-metric", "loss", "0.5", "--step="],
    ["log-metric", "loss", "0.5", "--step", "\u0663"],
    ["log-metric", "loss", "0.5", "extra"],
    ["log-metric", "loss", "0.5", "--stepp", "1"],
    ["log-metric", "loss", "abc"],
    ["log-metric", "loss", "abc", "--step", "2"],
    ["log-metric", "../bad", "1"],
    ["log-metric", "", "1"],
    ["log-param", "k", "v", "--step", "1"],
    ["log-param", "k"],
    ["log-param", "../k", "1"],
    ["set-tag", "a"],
    ["set-tag", "a", "b", "c"],
    ["set-tag", "", "b"],
]

# Runs every form through the `gitruns` entry (fast path first) and through click alone.
DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys
    argvs, out = json.loads(sys.argv[1]), sys.argv[2]
    click_only = "import sys; from gitruns.cli.main import main; main()"
    results = []
    for argv in argvs:
        pair = []
        for head in ([sys.executable, "-m", "gitruns"], [sys.executable, "-c", click_only]):
            done = subprocess.run([*head, *argv], capture_output=True, text=True)
            pair.append([done.returncode, done.stdout, done.stderr])
        results.append(pair)
    json.dump(results, open(out, "w"))
    """
)


def test_help_and_errors_are_clicks_inside_a_run(repo: Path, tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "results.json"
    done = record(repo, "--no-system-metrics", "--", PY, str(driver), json.dumps(ARGVS), str(out))
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    for argv, (fast, click_only) in zip(ARGVS, results, strict=True):
        assert fast == click_only, argv
    by_argv = {tuple(a): r[0] for a, r in zip(ARGVS, results, strict=True)}
    assert by_argv[("log-metric", "--help")][0] == 0
    assert "Usage: gitruns log-metric" in by_argv[("log-metric", "--help")][1]
    assert by_argv[("log-metric", "loss", "abc")][:2] == [1, ""]
    assert "is not a number" in by_argv[("log-metric", "loss", "abc")][2]
    assert by_argv[("log-metric", "loss", "-0.5")][0] == 2  # click's usage error


def test_help_and_errors_are_clicks_outside_a_run(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "results.json"
    subprocess.run([PY, str(driver), json.dumps(ARGVS), str(out)], cwd=tmp_path, check=True)
    results = json.loads(out.read_text())
    for argv, (fast, click_only) in zip(ARGVS, results, strict=True):
        assert fast == click_only, argv


@pytest.mark.parametrize(
    ("argv", "plain"),
    [
        (["log-metric", "loss", "0.5"], True),
        (["log-metric", "loss", "0.5", "--step", "3"], True),
        (["log-metric", "loss", "0.5", "--step=03"], True),
        (["log-param", "lr", "[1, 2]"], True),
        (["set-tag", "stage", "a b"], True),
        (["log-metric", "loss", "0.5", "--step", "+3"], False),
        (["log-metric", "loss", "0.5", "--step", "3", "--step", "4"], False),
        (["log-metric", "--step", "3", "loss", "0.5"], False),
        (["--debug", "log-metric", "loss", "0.5"], False),
        (["ls", "a", "b"], False),
    ],
)
def test_only_plain_forms_take_the_fast_path(argv: list[str], plain: bool) -> None:
    assert (_plain_call(argv) is not None) == plain


def test_plain_forms_do_not_import_click(repo: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            import sys
            sys.argv = ["gitruns", *sys.argv[1:]]
            from gitruns.cli.entry import main
            main()
            print(sorted(m for m in ("click", "pygit2", "yaml") if m in sys.modules))
            """
        )
    )
    script = tmp_path / "calls.sh"
    script.write_text(
        f"set -e\n{PY} {probe} log-metric loss 0.5 --step 2\n{PY} {probe} set-tag stage one\n"
        f"{PY} {probe} log-param lr 0.01\n"
    )
    done = record(repo, "--no-system-metrics", "--", "sh", str(script))
    assert done.returncode == 0, done.stderr
    # log-param types "0.01" with yaml_fast: PyYAML only for values it is not sure of
    assert done.stdout.decode().splitlines() == ["[]", "[]", "[]"]
