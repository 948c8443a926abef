"""``gitruns ls`` through the real CLI, and ``gitruns.search_runs``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _query_helpers import write_invalid_run
from conftest import git, gitruns_cli

import gitruns
from gitruns.errors import GitrunsError


def record(
    name: str, params: dict[str, Any], acc: float, tags: dict[str, str] | None = None
) -> str:
    with gitruns.start_run(name=name, params=params, tags=tags) as run:
        run.log_metric("acc", acc / 2, step=0)
        run.log_metric("acc", acc, step=1)
    return run.id


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    """Three runs: lr and acc vary, epochs does not."""
    return {
        "base": record("base", {"lr": 0.1, "epochs": 3}, 0.80, {"team": "a"}),
        "small-lr": record("small-lr", {"lr": 0.01, "epochs": 3}, 0.95, {"team": "a"}),
        "adam": record("adam", {"lr": 0.01, "epochs": 3, "opt": "adam"}, 0.91, {"team": "a"}),
    }


def ls(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = gitruns_cli(repo, "ls", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_default_table_shows_what_varies(repo: Path, runs: dict[str, str]) -> None:
    lines = ls(repo).splitlines()
    header = lines[0].split()
    assert header == [
        "id",
        "name",
        "status",
        "start",
        "duration",
        "lr",
        "opt",
        "acc",
    ]
    assert [line.split()[1] for line in lines[2:]] == ["adam", "small-lr", "base"]
    assert lines[2].split()[0] == runs["adam"][-8:]


def test_filter_sort_limit_and_columns(repo: Path, runs: dict[str, str]) -> None:
    out = ls(
        repo,
        "-f",
        "metrics.acc > 0.9 and params.lr = 0.01",
        "-s",
        "-metrics.acc",
        "-c",
        "name,metrics.acc,metrics.acc.min,params.lr",
        "--format",
        "csv",
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [
        ["name", "metrics.acc", "metrics.acc.min", "params.lr"],
        ["small-lr", "0.95", "0.475", "0.01"],
        ["adam", "0.91", "0.455", "0.01"],
    ]
    out = ls(repo, "--sort", "name", "--limit", "2", "--format", "csv", "-c", "name")
    assert out.split() == ["name", "adam", "base"]
    assert ls(
        repo, "-f", 'params.opt is null and name like "%lr"', "--format", "csv", "-c", "name"
    ).split() == ["name", "small-lr"]


def test_json_formats(repo: Path, runs: dict[str, str]) -> None:
    full = json.loads(ls(repo, "--format", "json", "-f", "name = 'adam'"))
    assert [r["id"] for r in full] == [runs["adam"]]
    assert (
        full[0]["params"] == {"lr": 0.01, "epochs": 3, "opt": "adam"}
        and full[0]["origin"] == "local"
    )
    picked = json.loads(
        ls(repo, "--format", "json", "-c", "id,params.lr,start_time", "-s", "params.lr")
    )
    assert [r["params.lr"] for r in picked] == [0.01, 0.01, 0.1]
    assert picked[0]["id"] in runs.values() and picked[0]["start_time"].endswith("Z")


def test_yaml_formats(repo: Path, runs: dict[str, str]) -> None:
    full = yaml.safe_load(ls(repo, "--format", "yaml", "-s", "name"))
    assert [r["name"] for r in full] == ["adam", "base", "small-lr"]
    for record in full:  # each item is the run as `show --format yaml` has it
        assert record == yaml.safe_load(ls_show(repo, record["id"]))
    picked = yaml.safe_load(
        ls(repo, "--format", "yaml", "-c", "id,params.lr,metrics.acc", "-s", "-metrics.acc")
    )
    assert picked == [
        {"id": runs["small-lr"], "params.lr": 0.01, "metrics.acc": 0.95},
        {"id": runs["adam"], "params.lr": 0.01, "metrics.acc": 0.91},
        {"id": runs["base"], "params.lr": 0.1, "metrics.acc": 0.80},
    ]
    assert ls(repo, "--format", "yaml", "-f", "params.lr > 5") == "[]\n"
    assert ls(repo, "--format", "yaml", "-f", "params.lr > 5", "-c", "id") == "[]\n"


def ls_show(repo: Path, run_id: str) -> str:
    result = gitruns_cli(repo, "show", run_id, "--format", "yaml")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_markdown(repo: Path, runs: dict[str, str]) -> None:
    lines = ls(repo, "--format", "markdown", "-c", "name,params.lr").splitlines()
    assert lines[:2] == ["| name | params.lr |", "|---|---|"]
    assert lines[2] == "| adam | 0.01 |" and len(lines) == 5


def test_table_fits_the_terminal(repo: Path, runs: dict[str, str]) -> None:
    for width in (40, 60, 200):
        lines = ls(repo, env={"COLUMNS": str(width)}).splitlines()
        assert max(len(line) for line in lines) <= max(width, 20)
        assert lines[0].split()[:2] == ["id", "name"]


def test_syntax_error_points_at_the_column(repo: Path, runs: dict[str, str]) -> None:
    result = gitruns_cli(repo, "ls", "-f", "metrics.acc >")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gitruns: error: syntax error at column 14: expected a value",
        "  metrics.acc >",
        "               ^",
    ]
    assert "needs a date" in gitruns_cli(repo, "ls", "-f", "start_time > 'soon'").stderr


def test_invalid_runs_warn_and_never_break_listing(repo: Path, runs: dict[str, str]) -> None:
    bad = "01900000-0000-7000-8000-00000000000b"
    write_invalid_run(repo, bad, b"schema_version: 1\nid: nope\n")
    for _ in range(2):  # the second time from the cache
        result = gitruns_cli(repo, "ls", "--format", "csv", "-c", "name")
        assert result.returncode == 0
        assert sorted(result.stdout.split()[1:]) == ["adam", "base", "small-lr"]
        [warning] = result.stderr.splitlines()
        assert warning.startswith(f"gitruns: warning: skipping refs/runs/{bad}: ")


def test_branch_and_commit(repo: Path, runs: dict[str, str]) -> None:
    main_commit = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "train.py").write_text("print('better')\n")
    git(repo, "commit", "-q", "-am", "better")
    record("on-feature", {"lr": 0.5}, 0.5)
    names = lambda *a: ls(repo, "--format", "csv", "-c", "name", "-s", "name", *a).split()[1:]  # noqa: E731
    assert names("--branch", "main") == ["adam", "base", "small-lr"]
    assert names("--branch", "feature") == ["adam", "base", "on-feature", "small-lr"]
    assert names("--commit", "HEAD") == ["on-feature"]
    assert names("--commit", main_commit[:7]) == ["adam", "base", "small-lr"]
    assert names("-f", f"commit = '{main_commit[:6]}' and branch = 'main'") == [
        "adam",
        "base",
        "small-lr",
    ]
    assert gitruns_cli(repo, "ls", "--branch", "nope").returncode == 1


def test_fetched_runs_get_an_origin_column(
    repo: Path, runs: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    git(
        repo,
        "update-ref",
        f"refs/remote-runs/team/{runs['base']}",
        git(repo, "rev-parse", f"refs/runs/{runs['base']}").strip(),
    )
    git(repo, "update-ref", "-d", f"refs/runs/{runs['adam']}")
    git(
        repo,
        "fetch",
        "-q",
        str(repo),
        f"refs/runs/{runs['small-lr']}:refs/remote-runs/team/{runs['small-lr']}",
    )
    rows = list(csv.DictReader(io.StringIO(ls(repo, "--format", "csv", "-c", "name,origin"))))
    assert sorted((r["name"], r["origin"]) for r in rows) == [
        ("base", "local"),
        ("small-lr", "local"),
    ]
    every = list(
        csv.DictReader(io.StringIO(ls(repo, "--all", "--format", "csv", "-c", "name,origin")))
    )
    assert len(every) == 4
    assert "origin" in ls(repo, "-f", "origin = 'team'", "--all").splitlines()[0].split()


def test_no_runs(repo: Path) -> None:
    result = gitruns_cli(repo, "ls")
    assert result.returncode == 0 and result.stdout == "" and "no runs yet" in result.stderr
    assert json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout) == []
    assert gitruns_cli(repo, "ls", "--format", "yaml").stdout == "[]\n"


def test_search_runs(repo: Path, runs: dict[str, str]) -> None:
    found = gitruns.search_runs("params.lr = '0.01'", order_by=["metrics.acc DESC"])
    assert [r.name for r in found] == ["small-lr", "adam"]
    assert found[0].metrics["acc"]["last"] == 0.95 and found[0].id == runs["small-lr"]
    assert [r.name for r in gitruns.search_runs(max_results=1)] == ["adam"]
    assert gitruns.search_runs("tags.team = 'b'") == []
    with pytest.raises(GitrunsError, match="column 8"):
        gitruns.search_runs("params.")


def test_to_pandas(repo: Path, runs: dict[str, str]) -> None:
    found = gitruns.search_runs(order_by=["name"])
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(GitrunsError, match="needs pandas"):
            found.to_pandas()
        return
    frame = found.to_pandas()
    assert list(frame["name"]) == ["adam", "base", "small-lr"]
    assert list(frame["params.lr"]) == [0.01, 0.1, 0.01]


def test_ids_only_for_command_substitution(repo: Path, runs: dict[str, str]) -> None:
    assert ls(repo, "-q").split() == [runs["adam"], runs["small-lr"], runs["base"]]
    assert ls(repo, "--ids", "-f", "params.lr = 0.1").split() == [runs["base"]]
    ids = ls(repo, "-q", "-n", "2").split()
    compared = gitruns_cli(repo, "compare", *ids)
    assert compared.returncode == 0 and "adam" in compared.stdout


def test_a_key_in_filter_and_sort_is_one_column(repo: Path, runs: dict[str, str]) -> None:
    out = ls(repo, "-f", "metrics.acc > 0.5", "-s", "metrics.acc", "--format", "csv")
    header = next(csv.reader(io.StringIO(out)))
    assert header.count("metrics.acc") == 1, header
    out = ls(repo, "-f", "params.lr < 1", "-s", "-params.lr", "--format", "csv")
    assert next(csv.reader(io.StringIO(out))).count("params.lr") == 1
