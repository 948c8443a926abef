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


def test_last_is_the_value_at_the_highest_step(repo: Path) -> None:
    """MLflow's "latest": out-of-order steps, and ties settled by the later timestamp;
    every point is still stored as logged."""
    import gitruns

    with gitruns.start_run("unordered") as run:
        run.log_metric("loss", 0.3, step=5, timestamp=1000.0)
        run.log_metric("loss", 0.9, step=1, timestamp=1001.0)  # logged last, lower step
        run.log_metric("acc", 0.5, step=2, timestamp=2000.0)
        run.log_metric("acc", 0.7, step=2, timestamp=2002.0)  # same step, later: wins
        run.log_metric("acc", 0.6, step=2, timestamp=2001.0)
    found = gitruns.get_run("unordered")
    assert found.metrics["loss"]["last"] == 0.3 and found.metrics["loss"]["last_step"] == 5
    assert found.metrics["acc"]["last"] == 0.7
    assert [p.value for p in found.metric_history("loss")] == [0.3, 0.9]  # as logged
    assert [r.id for r in gitruns.search_runs("metrics.loss = 0.3")] == [found.id]
    lines = gitruns_cli(repo, "metrics", "unordered").stdout.splitlines()
    assert lines[2].split()[:2] == ["acc", "0.7"] and lines[3].split()[:2] == ["loss", "0.3"]
    with gitruns.start_run("next-step") as run:
        run.log_metric("x", 1.0, step=7)
        run.log_metric("x", 2.0, step=3)
        run.log_metric("x", 3.0)  # the default step follows the highest one
    assert [p.step for p in gitruns.get_run("next-step").metric_history("x")] == [7, 3, 8]


def test_system_metrics_come_after_the_jobs_own(repo: Path) -> None:
    make_run("r", metrics={"system/cpu_percent": [10.0], "val/acc": [0.7], "loss": [0.5]})
    keys = [line.split()[0] for line in gitruns_cli(repo, "metrics", "r").stdout.splitlines()[2:]]
    assert keys == ["loss", "val/acc", "system/cpu_percent"]
    csv_keys = gitruns_cli(repo, "metrics", "r", "--format", "csv").stdout.splitlines()[1:]
    assert [line.split(",")[0] for line in csv_keys] == keys


def test_plot_draws_the_runs_that_have_the_key(repo: Path) -> None:
    make_run("with-loss", metrics={"loss": [1.0, 0.5, 0.25]})
    make_run("without", metrics={"acc": [0.5]})
    result = gitruns_cli(repo, "plot", "loss", "with-loss", "without", "--style", "ascii")
    assert result.returncode == 0, result.stderr
    assert "with-loss" in result.stdout and "without" not in result.stdout
    assert "without" in result.stderr and "has no metric 'loss'" in result.stderr
    none = gitruns_cli(repo, "plot", "f1", "with-loss", "without")
    assert none.returncode == 1
    assert none.stderr.startswith("gitruns: error: none of the runs has metric 'f1'")
