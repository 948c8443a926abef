"""``gitruns diff`` and ``gitruns compare``: what changed between runs, golden outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _compare_helpers import ID_A, ID_B, ID_C, build_pair, check_golden, make_run, mask
from conftest import fsck, gitruns_cli

from gitruns.runs.compare import MISSING, MetricChange, PackageChange
from gitruns.runs.envinfo import parse_packages, version_key


@pytest.fixture
def pair(repo: Path) -> dict[str, str]:
    return build_pair(repo)


def _cli(repo: Path, masks: dict[str, str], *args: str) -> str:
    result = gitruns_cli(repo, *args, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    return mask(result.stdout, masks)


@pytest.mark.parametrize(
    ("args", "golden"),
    [
        (("diff", ID_A, ID_B), "diff.txt"),
        (("diff", ID_A, ID_B, "--format", "markdown"), "diff.md"),
        (("diff", ID_A, ID_B, "--all"), "diff-all.txt"),
        (("compare", ID_A, ID_B, ID_C), "compare.txt"),
        (("compare", ID_A, ID_B, ID_C, "--format", "markdown"), "compare.md"),
    ],
)
def test_golden_outputs(repo: Path, pair: dict[str, str], args: tuple[str], golden: str) -> None:
    check_golden(golden, _cli(repo, pair, *args))


def test_diff_json(repo: Path, pair: dict[str, str]) -> None:
    data = json.loads(_cli(repo, pair, "diff", "baseline", "tuned", "--format", "json"))
    assert data["a"]["id"] == ID_A and data["b"]["id"] == ID_B
    params = {p["key"]: p for p in data["params"]}
    assert params["lr"] == {"key": "lr", "a": 0.1, "b": 0.01, "change": "changed"}
    assert params["dropout"]["change"] == "added"
    assert "layers" not in params  # unchanged: left out by default
    metrics = {m["key"]: m for m in data["metrics"]}
    assert metrics["loss"]["percent"] == pytest.approx(-50.0)
    assert metrics["zero"]["percent"] is None  # from 0: no percentage
    assert metrics["unstable"]["change"] == "added" and metrics["unstable"]["b"] == "NaN"
    packages = {p["key"]: p["change"] for p in data["packages"]}
    assert packages == {
        "numpy": "upgraded",
        "torch": "downgraded",
        "scipy": "removed",
        "pandas": "added",
    }
    code = data["code"]
    assert code["count_only_in_b"] == 1 and code["count_only_in_a"] == 0
    assert code["commits_only_in_b"][0].endswith("cosine schedule; data v2")
    assert "2 files changed" in code["diff_stat"]


def test_diff_all_includes_unchanged(repo: Path, pair: dict[str, str]) -> None:
    data = json.loads(_cli(repo, pair, "diff", ID_A, ID_B, "--all", "--format", "json"))
    params = {p["key"]: p["change"] for p in data["params"]}
    assert params["layers"] == "same"


def test_same_run_has_no_differences(repo: Path, pair: dict[str, str]) -> None:
    assert "no differences" in _cli(repo, pair, "diff", ID_A, ID_A)
    assert "No differences." in _cli(repo, pair, "diff", ID_A, ID_A, "--format", "markdown")
    fsck(repo)


def test_runs_without_environment_or_code(repo: Path) -> None:
    a = make_run("a", params={"x": 1}, metrics={"m": [float("inf")]})
    b = make_run("b", params={"x": 1}, metrics={"m": [float("inf")]})
    result = gitruns_cli(repo, "diff", a, b)
    assert result.returncode == 0, result.stderr
    assert "environment" not in result.stdout and "code" not in result.stdout
    assert "metrics" not in result.stdout  # inf == inf: unchanged


def test_compare_needs_two_runs(repo: Path) -> None:
    run = make_run("only")
    result = gitruns_cli(repo, "compare", run)
    assert result.returncode == 1 and "at least two runs" in result.stderr


def test_metric_change_arithmetic() -> None:
    assert MetricChange("m", 2.0, 3.0).percent == pytest.approx(50.0)
    assert MetricChange("m", -2.0, -1.0).percent == pytest.approx(50.0)
    assert MetricChange("m", 0.0, 0.0).percent == 0.0
    assert MetricChange("m", 0.0, 1.0).percent is None
    assert MetricChange("m", math.inf, 1.0).percent is None
    assert math.isnan(MetricChange("m", math.inf, math.inf).delta or 0.0)
    assert MetricChange("m", math.inf, math.inf).kind == "same"
    assert MetricChange("m", math.nan, math.nan).kind == "same"
    assert MetricChange("m", math.nan, 1.0).kind == "changed"
    assert MetricChange("m", MISSING, 1.0).delta is None


def test_package_versions() -> None:
    assert parse_packages("Foo_Bar==1.0\n# comment\n-e git+x\npkg @ file:///x\n") == {
        "foo-bar": "1.0",
        "pkg": "file:///x",
    }
    assert version_key("1.10") > version_key("1.9")
    assert version_key("2.0") > version_key("2.0rc1")
    assert version_key("2.0.1") > version_key("2.0")
    assert PackageChange("x", "1.0", "1.0+cpu").kind in ("upgraded", "changed")
    assert PackageChange("x", "2.0", "1.9").kind == "downgraded"
