"""The lineage fields ``parent``, ``child`` and ``children`` over a real repository with
nested runs, fine-tunes and a run in progress."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError


@pytest.fixture
def family(repo: Path) -> dict[str, str]:
    """sweep -> trial-1 -> trial-1-eval, sweep -> trial-2, base -> finetune, and lonely."""
    ids = {}
    with gitruns.start_run("sweep") as sweep:
        for trial in ("trial-1", "trial-2"):
            with gitruns.start_run(trial, nested=True) as run:
                run.log_metric("acc", 0.9 if trial == "trial-1" else 0.4)
                if trial == "trial-1":
                    with gitruns.start_run("trial-1-eval", nested=True) as inner:
                        inner.log_metric("acc", 0.85)
                    ids["trial-1-eval"] = inner.id
            ids[trial] = run.id
    ids["sweep"] = sweep.id
    with gitruns.start_run("base") as base:
        base.log_metric("acc", 0.7)
    ids["base"] = base.id
    with gitruns.start_run("finetune", parents=["base"]) as tuned:
        tuned.log_metric("acc", 0.8)
    ids["finetune"] = tuned.id
    with gitruns.start_run("lonely"):
        pass
    return ids


def names(text: str) -> set[str]:
    return {run.name for run in gitruns.search_runs(text)}


def test_parent_by_name_id_prefix_and_suffix(family: dict[str, str]) -> None:
    sweep = family["sweep"]
    for literal in ("sweep", sweep, sweep[:13], sweep[-8:]):
        assert names(f"parent = '{literal}'") == {"trial-1", "trial-2"}, literal
    assert names("parent = 'swee'") == set()  # a name is matched whole
    assert names("parent in ('base', 'trial-1')") == {"finetune", "trial-1-eval"}
    assert names("parent != 'sweep'") == {"trial-1-eval", "finetune"}
    assert names("parent not in ('sweep')") == {"trial-1-eval", "finetune"}
    assert names("parent like 'trial%'") == {"trial-1-eval"}
    assert names("parent is null") == {"sweep", "base", "lonely"}
    assert names("parent is not null") == {"trial-1", "trial-2", "trial-1-eval", "finetune"}
    assert names(f"tags.mlflow.parentRunId = '{sweep}'") == {"trial-1", "trial-2"}


def test_children_count_and_child_membership(family: dict[str, str]) -> None:
    assert names("children > 0") == {"sweep", "trial-1", "base"}
    assert names("children = 2") == {"sweep"}
    assert names("children = 0") == {"trial-2", "trial-1-eval", "finetune", "lonely"}
    assert names("child = 'finetune'") == {"base"}
    assert names("child like 'trial-%'") == {"sweep", "trial-1"}
    assert names(f"child = '{family['trial-2'][-8:]}'") == {"sweep"}
    assert names("child is null") == names("children = 0")
    assert names("not child = 'trial-1'") == names("child is null or child != 'trial-1'")


def test_lineage_with_a_sql_prefilter(family: dict[str, str]) -> None:
    """Terms on metrics prune rows in SQL first; lineage still sees every run (the parent
    named here has no ``acc`` and is pruned itself)."""
    assert names("parent = 'sweep' and metrics.acc > 0.5") == {"trial-1"}
    assert names("children > 0 and metrics.acc > 0.5") == {"trial-1", "base"}
    assert names("child = 'finetune' and metrics.acc >= 0.7") == {"base"}


def test_lineage_follows_deletions(repo: Path, family: dict[str, str]) -> None:
    assert names("children = 2") == {"sweep"}
    result = gitruns_cli(repo, "rm", "--yes", family["trial-2"])
    assert result.returncode == 0, result.stderr
    assert names("children = 2") == set()
    assert names("children = 1 and name = 'sweep'") == {"sweep"}


def test_ls_columns_sort_and_filter(repo: Path, family: dict[str, str]) -> None:
    result = gitruns_cli(
        repo, "ls", "-f", "children > 0", "-s", "-children", "-s", "name",
        "-c", "name,children,parent", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"name": "sweep", "children": 2, "parent": None},
        {"name": "base", "children": 1, "parent": None},
        {"name": "trial-1", "children": 1, "parent": family["sweep"]},
    ]
    table = gitruns_cli(repo, "ls", "-f", "parent = 'base'", "-c", "name,parent").stdout
    assert table.splitlines()[2].split() == ["finetune", family["base"][-8:]]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("parent < 'x'", "compares runs, which have no order"),
        ("children = 'sweep'", "children is the number of child runs"),
    ],
)
def test_lineage_errors(repo: Path, family: dict[str, str], text: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        gitruns.search_runs(text)
    result = gitruns_cli(repo, "ls", "-f", text)
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: ") and problem in result.stderr
    assert "Traceback" not in result.stderr


def test_a_child_in_progress_counts(repo: Path, family: dict[str, str]) -> None:
    """A run still being recorded is its parent's child already."""
    script = (
        "import sys, gitruns\n"
        "run = gitruns.start_run('live-child', parents=['lonely'])\n"
        "run.log_metric('acc', 0.5)\n"
        "print('started', flush=True)\n"
        "sys.stdin.readline()\n"
        "run.end()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "started\n"
        assert names("parent = 'lonely'") == {"live-child"}
        assert names("child = 'live-child'") == {"lonely"}
        assert names("children > 0 and name = 'lonely'") == {"lonely"}
    finally:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=60)
    assert child.returncode == 0
    assert names("children > 0 and name = 'lonely'") == {"lonely"}


def test_lineage_without_a_usable_cache_file(repo: Path, family: dict[str, str]) -> None:
    """A cache file that cannot be opened (here a folder in its place): the query runs on an
    in-memory cache, and lineage comes from the runs it read."""
    cache_file = repo / ".git" / "gitruns" / "cache.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cache_file}{suffix}").unlink(missing_ok=True)
    cache_file.mkdir()
    assert names("children > 0") == {"sweep", "trial-1", "base"}
    assert names("parent = 'sweep' and metrics.acc > 0.5") == {"trial-1"}
