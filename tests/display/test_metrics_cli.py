"""``gitruns metrics`` and ``gitruns plot``."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from _compare_helpers import make_run
from conftest import gitruns_cli

from gitruns.display.plot import Series, chart


def test_metrics_lists_keys_with_summaries(repo: Path) -> None:
    make_run("r", metrics={"loss": [1.0, 0.5], "val/acc": [0.7]})
    result = gitruns_cli(repo, "metrics", "r")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["key", "last", "min", "max", "count", "last_step"]
    assert lines[2].split() == ["loss", "0.5", "0.5", "1", "2", "1"]
    assert lines[3].split() == ["val/acc", "0.7", "0.7", "0.7", "1", "0"]
    data = json.loads(gitruns_cli(repo, "metrics", "r", "--format", "json").stdout)
    assert data["loss"]["count"] == 2


def test_metrics_series_formats(repo: Path) -> None:
    values = [1.0, float("nan"), float("inf"), 0.25]
    make_run("r", metrics={"loss": values})
    rows = list(
        csv.reader(io.StringIO(gitruns_cli(repo, "metrics", "r", "loss", "--format", "csv").stdout))
    )
    assert rows[0] == ["step", "timestamp", "value"]
    assert [float(r[2]) for r in rows[1:]][3] == 0.25
    assert math.isnan(float(rows[2][2])) and float(rows[3][2]) == math.inf
    data = json.loads(gitruns_cli(repo, "metrics", "r", "loss", "--format", "json").stdout)
    assert [d["value"] for d in data] == [1.0, "NaN", "Infinity", 0.25]
    assert [d["step"] for d in data] == [0, 1, 2, 3]
    table = gitruns_cli(repo, "metrics", "r", "loss").stdout.splitlines()
    assert table[0].split() == ["step", "time", "(UTC)", "loss"] and table[-1].split()[-1] == "0.25"


def test_metrics_unknown_key(repo: Path) -> None:
    make_run("r", metrics={"loss": [1.0]})
    result = gitruns_cli(repo, "metrics", "r", "nope")
    assert result.returncode == 1
    assert "has no metric 'nope'" in result.stderr and "loss" in result.stderr


def test_plot_draws_every_run_with_a_legend(repo: Path) -> None:
    make_run("slow", metrics={"loss": [1.0 / (i + 1) for i in range(50)]})
    make_run("fast", metrics={"loss": [math.exp(-i / 5) for i in range(50)]})
    result = gitruns_cli(repo, "plot", "loss", "slow", "fast", "--width", "60", "--height", "8")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "loss"
    plot_rows = lines[1:9]
    assert plot_rows[0].split()[0] == "1" and all("┤" in row for row in plot_rows)
    assert all(len(row) <= 60 for row in lines[1:11])
    assert "*" in "".join(plot_rows) and "o" in "".join(plot_rows)  # not a tty: ascii markers
    assert "** slow (" in result.stdout and "oo fast (" in result.stdout
    braille = gitruns_cli(repo, "plot", "loss", "slow", "--style", "braille", "--log-y")
    assert braille.returncode == 0 and any(0x2800 < ord(c) <= 0x28FF for c in braille.stdout)
    assert "(log scale)" in braille.stdout


def test_chart_edge_cases() -> None:
    assert chart([Series("a", [])]) == "(no finite values to plot)\n"
    flat = chart([Series("a", [(0, 1.0), (1, 1.0)])], width=30, height=4, braille=False)
    assert "1.05" in flat and "0.95" in flat
    logged = chart([Series("a", [(0, -1.0), (1, 10.0)])], width=30, height=4, log_y=True)
    assert "10" in logged
    coloured = chart([Series("a", [(0, 1.0), (1, 2.0)])], width=30, height=4, colour=True)
    assert "\x1b[34m" in coloured
