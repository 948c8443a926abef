"""The minimal CLI (--version, ls, show) through a real subprocess, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import git, gitruns_cli

import gitruns

SHOW_KEYS = {
    "id",
    "name",
    "status",
    "start_time",
    "end_time",
    "user",
    "params",
    "tags",
    "notes",
    "metrics",
    "git",
    "artifacts",
}


def make_run(repo: Path) -> str:
    (repo / "model.bin").write_bytes(b"model")
    with gitruns.start_run(name="baseline", params={"lr": 0.01, "net": {"layers": 3}}) as run:
        for step, loss in enumerate([1.0, 0.5, float("nan"), 0.25]):
            run.log_metric("loss", loss, step=step)
        run.log_metric("val/acc", float("inf"))
        run.set_tag("model", "mlp")
        run.note("a note")
        run.log_artifact(repo / "model.bin")
    return run.id


def test_version(repo: Path) -> None:
    result = gitruns_cli(repo, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gitruns, version {gitruns.__version__}"


def test_ls(repo: Path) -> None:
    empty = gitruns_cli(repo, "ls")
    assert empty.returncode == 0 and empty.stdout == ""
    run_id = make_run(repo)
    with gitruns.start_run(name="second", params={"lr": 0.1, "net": {"layers": 3}}) as run:
        run.log_metric("loss", 0.1)
    result = gitruns_cli(repo, "ls")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:5] == ["id", "name", "status", "start", "duration"]
    assert "lr" in header and "loss" in header  # "params."/"metrics." left out when unambiguous
    assert "net.layers" not in header  # the same in every run
    assert lines[2].split()[:3] == [run.id[-8:], "second", "FINISHED"]
    assert lines[3].split()[:3] == [run_id[-8:], "baseline", "FINISHED"]
    as_json = json.loads(gitruns_cli(repo, "ls", "--format", "json", "-n", "1").stdout)
    assert [r["id"] for r in as_json] == [run.id]


def test_show_json(repo: Path) -> None:
    run_id = make_run(repo)
    result = gitruns_cli(repo, "show", "baseline", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # strict JSON: NaN and inf as strings
    assert set(data) >= SHOW_KEYS
    assert data["id"] == run_id and data["name"] == "baseline" and data["status"] == "FINISHED"
    assert data["params"] == {"lr": 0.01, "net": {"layers": 3}}
    assert data["tags"] == {"model": "mlp"}
    assert data["notes"][0]["text"] == "a note"
    loss = data["metrics"]["loss"]
    assert {"last", "min", "max", "count"} <= set(loss)
    assert (loss["last"], loss["min"], loss["max"], loss["count"]) == (0.25, 0.25, 1.0, 4)
    assert data["metrics"]["val/acc"]["last"] == "Infinity"
    head = git(repo, "rev-parse", "HEAD").strip()
    assert data["git"]["commit"] == head
    assert data["git"]["branch"] == "main" and data["git"]["dirty"] is False
    assert data["artifacts"][0]["path"] == "model.bin"
    assert data["user"]["email"] == "test@example.com"
    assert data["start_time"].endswith("Z") and data["end_time"] >= data["start_time"]


def test_show_by_id_prefix_and_other_formats(repo: Path) -> None:
    run_id = make_run(repo)
    text = gitruns_cli(repo, "show", run_id[-8:])
    assert text.returncode == 0, text.stderr
    assert run_id in text.stdout and "loss" in text.stdout and "lr" in text.stdout
    as_yaml = gitruns_cli(repo, "show", run_id, "--format", "yaml")
    assert as_yaml.returncode == 0
    assert yaml.safe_load(as_yaml.stdout)["id"] == run_id


def assert_clean_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: ")
    assert "; " in result.stderr and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_errors_are_one_line(repo: Path, tmp_path: Path) -> None:
    assert_clean_error(gitruns_cli(repo, "show", "nothing"), "no run matches 'nothing'")
    plain = tmp_path / "plain"
    plain.mkdir()
    outside = gitruns_cli(plain, "ls", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert_clean_error(outside, "not a git repository", "git init")
    for _ in range(3):
        make_run(repo)
    prefix = gitruns.list_runs()[0].id[:4]
    assert_clean_error(gitruns_cli(repo, "show", prefix), "matches 3 runs")


def test_sha256_repository_error(tmp_path: Path) -> None:
    path = tmp_path / "sha"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(path))
    assert_clean_error(gitruns_cli(path, "ls"), "SHA-256")


def test_debug_shows_traceback(repo: Path) -> None:
    result = gitruns_cli(repo, "--debug", "show", "nothing")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_usage_error_exit_2(repo: Path) -> None:
    result = gitruns_cli(repo, "show", "x", "--format", "toml")
    assert result.returncode == 2


def test_import_is_light() -> None:
    code = (
        "import sys, gitruns\n"
        "heavy = ['pygit2', 'psutil', 'pynvml', 'jsonschema', 'tabulate', 'yaml', 'click']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
