"""Every text output fits COLUMNS: golden outputs at 80 columns, and the width rules.

The runs are those of ``build_pair`` plus ``wide``: long metric and param names, system
metrics, and a failure whose stderr ``show`` must print, all pinned to fixed content.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _compare_helpers import (
    BASE_TIME,
    ID_A,
    ID_B,
    ID_C,
    build_pair,
    check_golden,
    make_run,
    mask,
    pin_run,
)
from conftest import gitruns_cli

from gitruns.display.fit import cut, display_width, fit_lines, render_table

ID_D = "01937f00-0000-7000-8000-00000000000d"
STDERR = b"".join(f"epoch {i}: loss nan\n".encode() for i in range(20)) + (
    b"Traceback (most recent call last):\n"
    b'  File "train.py", line 88, in <module>\n'
    b"    raise FloatingPointError('loss diverged at epoch 19 after the learning rate warmup"
    b" finished and the gradient norm exploded')\n"
    b"FloatingPointError: loss diverged\n"
)


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    masks = build_pair(repo)
    wide = make_run(
        "wide-run-with-a-rather-long-descriptive-name",
        params={
            "optimizer": {"learning_rate_schedule": "cosine_with_warmup_and_restarts"},
            "lr": 0.3,
        },
        metrics={
            "validation/top5_accuracy_with_test_time_augmentation": [0.5, 0.7, 0.75],
            "train/loss": [2.0, 1.0, float("nan")],
            "system/cpu_percent": [12.5, 80.0, 95.5],
            "system/gpu/0/memory_used_megabytes": [1000.0, 30000.0, 31000.0],
        },
        status="FAILED",
    )
    pin_run(
        repo,
        wide,
        ID_D,
        start=BASE_TIME + 9000,
        duration=3725.0,
        files={"logs/stderr.txt": STDERR},
    )
    return masks


def _out(repo: Path, masks: dict[str, str], *args: str, columns: int = 80) -> str:
    result = gitruns_cli(repo, *args, env={"COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    return mask(result.stdout, masks)


def _fits(text: str, width: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if display_width(line) > width]
    assert not too_wide, too_wide


@pytest.mark.parametrize(
    ("args", "golden"),
    [
        (("ls",), "ls-80.txt"),
        (("show", ID_D), "show-failed-80.txt"),
        (("diff", ID_B, ID_D), "diff-80.txt"),
        (("diff", ID_B, ID_D, "--system"), "diff-system-80.txt"),
        (("compare", ID_A, ID_B, ID_C, ID_D), "compare-4-80.txt"),
        (("metrics", ID_D), "metrics-80.txt"),
    ],
)
def test_golden_outputs_at_80_columns(
    repo: Path, runs: dict[str, str], args: tuple[str, ...], golden: str
) -> None:
    text = _out(repo, runs, *args)
    _fits(text)
    check_golden(golden, text)


def test_history_and_trash_fit(repo: Path, runs: dict[str, str]) -> None:
    long_note = "a note that goes on and on about what happened in this run " * 3
    assert gitruns_cli(repo, "note", ID_D, long_note).returncode == 0
    assert gitruns_cli(repo, "tag", ID_D, "reviewed=by-someone-with-a-long-name").returncode == 0
    history = _out(repo, runs, "history", ID_D)
    _fits(history)
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d  (\w+)  [0-9a-f]{12}  ", re.MULTILINE)
    assert stamp.sub(r"<time>  \1  <commit>  ", history).splitlines() == [
        "<time>  recorded  <commit>  Test User <test@example.com>",
        "    recorded as wide-run-with-a-rather-long-descriptive-name (FAILED)",
        "<time>  note  <commit>  Test User <test@example.com>",
        cut(f"    note: {long_note.strip()}", 80),
        "<time>  tag  <commit>  Test User <test@example.com>",
        "    tag reviewed=by-someone-with-a-long-name",
    ]
    assert gitruns_cli(repo, "rm", "--yes", ID_A, ID_D).returncode == 0
    trash = _out(repo, runs, "restore", "--list")
    _fits(trash)
    dates = re.compile(r"\d{4}-\d\d-\d\d( \d\d:\d\d)?")
    check_golden("restore-list-80.txt", dates.sub(lambda m: "<date>".ljust(len(m[0]), "."), trash))


@pytest.mark.parametrize("columns", [40, 60, 100, 160])
def test_every_text_output_fits_any_width(repo: Path, runs: dict[str, str], columns: int) -> None:
    for args in (
        ("ls",),
        ("show", ID_D),
        ("show", ID_B),
        ("diff", ID_A, ID_D, "--all", "--system"),
        ("compare", ID_A, ID_B, ID_C, ID_D, "--all"),
        ("metrics", ID_D),
        ("history", ID_B),
    ):
        _fits(_out(repo, runs, *args, columns=columns), columns)


def test_ls_keeps_varying_params_before_metrics_at_80(repo: Path, runs: dict[str, str]) -> None:
    header = _out(repo, runs, "ls").splitlines()[0].split()
    assert header[:5] == ["id", "name", "status", "start", "duration"]
    assert header[5:7] == ["dropout", "layers"]  # params first: they say what each run was


def test_piped_output_defaults_to_80_columns(repo: Path, runs: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    shown = subprocess.run(
        [sys.executable, "-m", "gitruns", "show", ID_D],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    _fits(shown.stdout, 80)
    assert any(display_width(line) == 80 for line in shown.stdout.splitlines())


def test_fit_helpers() -> None:
    assert cut("abcdef", 4) == "abc…" and cut("abc", 4) == "abc" and cut("abc", 0) == ""
    assert display_width("日本") == 4 and cut("日本語", 5) == "日本…"
    assert display_width("e\u0301") == 1
    assert fit_lines("aaaa\nbb\n", 3) == "aa…\nbb\n"
    table = render_table(["key", "value"], [["a", "x" * 50], ["b", "y"]], 20, right=[False, True])
    assert all(display_width(line) <= 20 for line in table)
    assert table[2].startswith("a    ") and table[2].endswith("…")
    protected = render_table(["name", "v"], [["long-name", "v" * 30]], 20, protect=(0,))
    assert protected[2].startswith("long-name  ")
