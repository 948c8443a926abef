"""``gitruns record`` parsed without click (cli/record_argv.py): every kind of argv gives
the same output, exit code and run through the fast path as through click alone, and
the fast path never imports click."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitruns.cli.record_argv import parse_record_argv
from tests.conftest import git

PY = sys.executable
FAST = [PY, "-m", "gitruns"]
CLICK_ONLY = [PY, "-c", "from gitruns.cli.main import main; main()"]

# Every form a caller may type: plain ones take the fast path, the rest go to click.
ARGVS: list[list[str]] = [
    ["record", "--", PY, "-c", "print('hi')"],
    ["record", PY, "-c", "import sys; sys.exit(3)"],
    [
        "record",
        "-n",
        "base",
        "-t",
        "a=b",
        "--tag=c=d=e",
        "-p",
        "lr=0.01",
        "-p",
        "layers=[1, 2]",
        "--",
        PY,
        "-c",
        "pass",
    ],
    [
        "record",
        "--name=x",
        "--note",
        "first note",
        "--note=second",
        "-e",
        "exp1",
        "--experiment",
        "exp2",
        "--",
        PY,
        "-c",
        "pass",
    ],
    [
        "record",
        "--no-system-metrics",
        "--no-argv-params",
        "--no-arg-capture",
        "--no-import-metrics",
        "--autolog",
        "--",
        PY,
        "-c",
        "pass",
        "--lr",
        "0.1",
    ],
    [
        "record",
        "--system-interval",
        "0.5",
        "--max-output",
        "2048",
        "--",
        PY,
        "-c",
        "print('x' * 5000)",
    ],
    ["record", "--metric-regex", r"loss (?P<loss>[0-9.]+)", "--", PY, "-c", "print('loss 0.5')"],
    [
        "record",
        "--config",
        "conf.yaml",
        "--input",
        "conf.yaml",
        "--artifact",
        "out.txt",
        "--",
        PY,
        "-c",
        "open('out.txt', 'w').write('x')",
    ],
    ["record", "--parent", "base", "--", PY, "-c", "pass"],
    ["record", "--", "sh", "-c", "echo to-stderr >&2; exit 4"],
    ["record", "--", "no-such-command-anywhere"],
    ["record", "-n", "bad/../name", "--", PY, "-c", "pass"],
    ["record", "-e", "", "--", PY, "-c", "pass"],
    ["record", "--config", "missing.yaml", "--", PY, "-c", "pass"],
    ["record", "--config", ".", "--", PY, "-c", "pass"],
    ["record", "--tag", "novalue", "--", PY, "-c", "pass"],
    ["record", "-p", "=1", "--", PY, "-c", "pass"],
    ["record", "--system-interval", "0.01", "--", PY, "-c", "pass"],
    ["record", "--system-interval", "1e1", "--", PY, "-c", "pass"],
    ["record", "--max-output", "12", "--", PY, "-c", "pass"],
    ["record", "--max-output", "+4096", "--", PY, "-c", "pass"],
    ["record", "-n", "--", PY, "-c", "pass"],
    ["record", "-nshort", "--", PY, "-c", "pass"],
    ["record", "--name"],
    ["record", "--help"],
    ["record", "-h"],
    ["record"],
    ["record", "--"],
    ["record", "--bogus", PY, "-c", "pass"],
    ["record", "--autolog=yes", "--", PY, "-c", "pass"],
]

_RUN_LINE = re.compile(r"recording run [0-9a-f-]{36} \([^)]*\)")
_SUMMARY = re.compile(r"gitruns: run \S+ \([0-9a-f]{8}\) (\w+) in [0-9.]+s")
# What a run holds that does not depend on when or by which path it was recorded.
_COMPARED = ("status", "exit_code", "params", "param_sources", "tags", "experiment", "command")
_COMPARED += ("git", "user", "host", "inputs", "metric_sources", "parents")


def _normalised(text: str) -> str:
    text = _RUN_LINE.sub("recording run <id> (<name>)", text)
    return _SUMMARY.sub(r"gitruns: run <name> (<id>) \1 in <s>", text)


def _new_runs(repo: Path, known: set[str]) -> list[dict[str, Any]]:
    listing = subprocess.run(
        [*FAST, "ls", "--format", "json"], cwd=repo, capture_output=True, text=True, check=True
    )
    runs = []
    for run_id in sorted({r["id"] for r in json.loads(listing.stdout)} - known):
        shown = subprocess.run(
            [*FAST, "show", run_id, "--format", "json"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(shown.stdout))
        known.add(run_id)
    return runs


def _comparable(run: dict[str, Any]) -> dict[str, Any]:
    found = {key: run.get(key) for key in _COMPARED}
    found["notes"] = [note["text"] for note in run.get("notes") or []]
    found["artifacts"] = sorted(a["path"] for a in run.get("artifacts") or [])
    found["metrics"] = {k: v["last"] for k, v in run["metrics"].items() if "system/" not in k}
    if not run["name"].endswith(run["id"][-4:]):  # given, not generated from the id
        found["name"] = run["name"]
    return found


@pytest.mark.slow
def test_every_form_gives_what_click_gives(repo: Path) -> None:
    (repo / "conf.yaml").write_text("batch: 32\noptimizer:\n  name: adam\n")
    (repo / ".gitignore").write_text("conf.yaml\nout.txt\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    known: set[str] = set()
    for argv in ARGVS:
        outcomes = []
        for head in (FAST, CLICK_ONLY):
            done = subprocess.run([*head, *argv], cwd=repo, capture_output=True, text=True)
            runs = [_comparable(run) for run in _new_runs(repo, known)]
            outcomes.append((done.returncode, done.stdout, _normalised(done.stderr), runs))
        assert outcomes[0] == outcomes[1], argv
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.parametrize(
    ("argv", "fast"),
    [
        (["record", "--", "python", "-c", "pass"], True),
        (["record", "python", "train.py", "--lr", "0.1"], True),
        (["record", "-n", "a", "--name=b", "-t", "k=v", "--", "python"], True),
        (["record", "--autolog", "--no-system-metrics", "python"], True),
        (["record", "--system-interval", "2.5", "python"], True),
        (["record", "--max-output", "4096", "python"], True),
        (["record", "--help"], False),
        (["record", "-h", "python"], False),
        (["record"], False),
        (["record", "--"], False),
        (["record", "-n", "-x", "python"], False),
        (["record", "-nx", "python"], False),
        (["record", "-n=x", "python"], False),
        (["record", "--tag", "novalue", "python"], False),
        (["record", "--system-interval", "0.05", "python"], False),
        (["record", "--system-interval", "nan", "python"], False),
        (["record", "--max-output", "1_000_000", "python"], False),
        (["record", "--config", "/nonexistent/conf.yaml", "python"], False),
        (["record", "--unknown", "python"], False),
        (["--debug", "record", "python"], False),
        (["-C", "..", "record", "python"], False),
        (["ls"], False),
    ],
)
def test_only_plain_forms_take_the_fast_path(argv: list[str], fast: bool) -> None:
    assert (parse_record_argv(argv) is not None) == fast


def test_the_command_starts_before_git_yaml_psutil_and_click_load(repo: Path) -> None:
    """Which heavy modules were loaded when the command was started (the moment record
    calls Popen for it), and which at the end: the run itself is complete."""
    probe = repo.parent / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            import subprocess, sys
            heavy = ("pygit2", "yaml", "psutil", "click")
            seen = {}
            original = subprocess.Popen.__init__

            def spy(self, args, *rest, **kwargs):
                if list(args)[:2] == [sys.executable, "-c"]:
                    seen.setdefault("start", sorted(m for m in heavy if m in sys.modules))
                original(self, args, *rest, **kwargs)

            subprocess.Popen.__init__ = spy
            sys.argv = ["gitruns", "record", "--", sys.executable, "-c", "print('ran')"]
            from gitruns.cli import record_argv

            def report(code):
                seen["end"] = sorted(m for m in heavy if m in sys.modules)
                print(seen, flush=True)
                sys.exit(code)

            record_argv.exit_at_once = report
            from gitruns.cli.entry import main

            main()
            """
        )
    )
    done = subprocess.run([PY, str(probe)], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ran"
    # nothing heavy at the end either: the run is finalised without pygit2 (runwrite),
    # PyYAML (yaml_write) or psutil (no sample was due)
    assert lines[1] == str({"start": [], "end": []})
    run_list = subprocess.run(
        [*FAST, "ls", "--format", "json"], cwd=repo, capture_output=True, text=True, check=True
    )
    [run] = json.loads(run_list.stdout)
    assert run["status"] == "FINISHED"
