"""MLflow's search-filter spellings over real recorded runs, through ``gitruns ls`` (a real
subprocess) and ``gitruns.search_runs``.

The cases are MLflow's own (its ``tests/utils/test_search_utils.py`` and search docs),
rewritten here as filter strings with the runs each one must find. The three runs mirror
the runs of MLflow's filtering test: ``r0`` FAILED, key1 121, my_param A, no tags; ``r1``
FINISHED, key1 123, my_param A, tag1 C; ``r2`` FAILED, key1 125, my_param B, tag1 D.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import git, gitruns_cli

import gitruns
from gitruns.errors import InvalidInputError
from gitruns.query import parse, to_text

RUN_DEFS: dict[str, dict[str, Any]] = {
    "r0": {
        "fail": True,
        "params": {"my_param": "A", "m": "tf", "cat dog": "pets", "model": "LR"},
        "metrics": {"key1": 121, "X-Y-Z": 3, "legit name": 0.243, "accuracy.2.0": 4},
        "tags": {},
    },
    "r1": {
        "fail": False,
        "params": {"my_param": "A", "m": "pt", "model": "LinearRegression", "model_class": "LR"},
        "metrics": {"key1": 123, "rmse": 0.5, "XYZ": 3, "X/Y#$$@&Z": 3},
        "tags": {"tag1": "C", "version": "commit-hash", "t.a.g": "a", "source_name": "a notebook"},
    },
    "r2": {
        "fail": True,
        "params": {"my_param": "B", "m": "L'Hosp", "p.a.r.a.m": "b"},
        "metrics": {"key1": 125, "spacey name": 6, "accuracy.2.0": 6, "acc": 0.95},
        "tags": {"tag1": "D", "t.a.g": "b"},
    },
}

# (filter, the runs it finds). Each one parses, and means what it means in MLflow.
CASES: list[tuple[str, set[str]]] = [
    # MLflow's filtering test (test_correct_filtering), on the same three runs
    ("attributes.status = 'FAILED'", {"r0", "r2"}),
    ("metrics.key1 = 123", {"r1"}),
    ("metrics.key1 != 123", {"r0", "r2"}),
    ("metrics.key1 >= 123", {"r1", "r2"}),
    ("params.my_param = 'A'", {"r0", "r1"}),
    ("tags.tag1 = 'D'", {"r2"}),
    ("tags.tag1 != 'D'", {"r1"}),
    ("params.my_param = 'A' AND attributes.status = 'FAILED'", {"r0"}),
    # MLflow's parser cases (test_filter), each over real runs
    ("metric.key1 >= 123", {"r1", "r2"}),
    ("metric.key1>=123", {"r1", "r2"}),
    ("metric.acc >= 0.94", {"r2"}),
    ("params.m!='tf'", {"r1", "r2"}),
    ('params."m"!="tf"', {"r1", "r2"}),
    ('metric."legit name" >= 0.243', {"r0"}),
    ("metrics.XYZ = 3", {"r1"}),
    ('params."cat dog" = "pets"', {"r0"}),
    ('metrics."X-Y-Z" = 3', {"r0"}),
    # MLflow's case is "X//Y#$$@&Z": gitruns refuses an empty segment in a metric key (it is
    # a path in the run's tree), so the recorded key has one slash; the spelling still parses
    ('metrics."X/Y#$$@&Z" = 3', {"r1"}),
    ("params.model = 'LinearRegression'", {"r1"}),
    ("metrics.rmse < 1 and params.model_class = 'LR'", {"r1"}),
    ("`metric`.key1 >= 123", {"r1", "r2"}),
    ("`metric`.key1 >= 0.1", {"r0", "r1", "r2"}),
    ("`params`.model >= 'LR'", {"r0", "r1"}),
    ("tags.version = 'commit-hash'", {"r1"}),
    ("`tags`.source_name = 'a notebook'", {"r1"}),
    ('metrics."accuracy.2.0" > 5', {"r2"}),
    ("metrics.`spacey name` > 5", {"r2"}),
    ('params."p.a.r.a.m" != "a"', {"r2"}),
    ('tags."t.a.g" = "a"', {"r1"}),
    ("run.status = 'FINISHED'", {"r1"}),
    ("run.status = 'RUNNING'", set()),
    ("tags.version IS NULL", {"r0", "r2"}),
    ("tags.version IS NOT NULL", {"r1"}),
    ("params.model IS NULL", {"r2"}),
    ("params.model IS NOT NULL", {"r0", "r1"}),
    ("tags.tag1 IS NULL AND params.my_param = 'A'", {"r0"}),
    # quotes in values (test_correct_quote_trimming)
    ("params.my_param = 'B'", {"r2"}),
    ('params.my_param = "B"', {"r2"}),
    ('params.m = "L\'Hosp"', {"r2"}),
    # entity and attribute aliases MLflow accepts
    ("attribute.status = 'FINISHED'", {"r1"}),
    ("attr.status != 'FINISHED'", {"r0", "r2"}),
    ("param.my_param = 'B'", {"r2"}),
    ("parameter.my_param = 'B'", {"r2"}),
    ("parameters.my_param = 'B'", {"r2"}),
    ("tag.tag1 = 'C'", {"r1"}),
    ("attributes.run_name = 'r1'", {"r1"}),
    ("attributes.`Run name` = 'r2'", {"r2"}),
    ("attributes.run_name LIKE 'r%'", {"r0", "r1", "r2"}),
    ("attributes.run_name ILIKE 'R_'", {"r0", "r1", "r2"}),
    ("attributes.run_name LIKE 'R%'", set()),
    ("attributes.run_name IN ('r0', 'r2')", {"r0", "r2"}),
    ("attributes.run_name NOT IN ('r0', 'r2')", {"r1"}),
    ("attributes.user_id = 'Test User'", {"r0", "r1", "r2"}),
    ("attributes.start_time > 1000000000000", {"r0", "r1", "r2"}),
    ("attribute.end_time >= 0", {"r0", "r1", "r2"}),
    ("attributes.created > 0", {"r0", "r1", "r2"}),
    ("params.my_param LIKE 'A%'", {"r0", "r1"}),
    ("tags.tag1 ILIKE 'c'", {"r1"}),
    # MLflow's system tags, mapped to gitruns fields
    ("tags.mlflow.runName = 'r1'", {"r1"}),
    ("tags.`mlflow.runName` = 'r2'", {"r2"}),
    ('tags."mlflow.runName" != "r2"', {"r0", "r1"}),
    ("tags.mlflow.runName LIKE 'r%' AND metrics.key1 > 121", {"r1", "r2"}),
    ("tags.mlflow.user = 'Test User'", {"r0", "r1", "r2"}),
    ("tags.mlflow.parentRunId IS NULL", {"r0", "r1", "r2"}),
    ("tags.mlflow.source.git.branch = 'main'", {"r0", "r1", "r2"}),
    ("tags.mlflow.source.git.dirty = false", {"r0", "r1", "r2"}),
    ("tags.mlflow.note.content LIKE '%second%'", {"r2"}),
    ("tags.mlflow.note.content IS NULL", {"r0", "r1"}),
    ("tags.mlflow.source.type = 'LOCAL'", set()),  # an MLflow tag gitruns keeps as a tag
]

# Spellings that are refused with an error (never 0 rows), and a word the message holds.
ERRORS: list[tuple[str, str]] = [
    ("metric.acc >= 0.94; metrics.rmse < 1", "unexpected ';'"),
    ("m.acc >= 0.94", "unknown field"),
    ("acc >= 0.94", "unknown field"),
    ("p.model >= 'LR'", "unknown field"),
    ("attri.x != 1", "unknown field"),
    ("model >= 'LR'", "unknown field"),
    ("metrics.A > 0.1 NAND params.B = 'LR'", "after a complete expression"),
    ("`metrics.A > 0.1", "unterminated"),
    ("param`.A > 0.1", "unterminated"),
    ("attribute.start != 1", "unknown field"),
    ("attribute.experiment_id != 1", "unknown field"),
    ("attribute.lifecycle_stage = 'ACTIVE'", "lifecycle_stage"),
    ("attribute.artifact_uri = '1/23/4'", "artifact_uri"),
    ("attribute._status != 'RUNNING'", "unknown field"),
    ("dataset.name = 'my_dataset'", "datasets"),
    ("datasets.digest IN ('d1')", "datasets"),
    ("params.'acc = LR", "unterminated"),
    ("params.acc = 'LR", "unterminated"),
    ("tags.acc = = 'LR'", "expected a value"),
    ("attribute.status IS 'RUNNING'", "expected 'null'"),
    ("params.acc LR", "expected an operator"),
    ("metric.acc !=", "expected a value"),
    ("1=1", "a comparison needs a field"),
    ("tags.mlflow.runname = 'x'", "did you mean tags.mlflow.runName"),
    ("tags.mlflow.parentRunID = 'x'", "did you mean tags.mlflow.parentRunId"),
    ("tags.`mlflow.nosuchtag` = 'x'", "unknown MLflow system tag"),
]


@pytest.fixture(scope="module")
def mlflow_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The three runs, recorded once for the module in a real repository (away from the
    user's git config, as the autouse fixture does for each test)."""
    repo = tmp_path_factory.mktemp("mlflow-filters")
    home = tmp_path_factory.mktemp("mlflow-home")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("GIT_", "GITRUNS_")):
                patch.delenv(name)
        patch.setenv("HOME", str(home))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.name", "Test User")
        git(repo, "config", "user.email", "test@example.com")
        git(repo, "commit", "-q", "--allow-empty", "-m", "init")
        ids = {}
        for name, spec in RUN_DEFS.items():
            notes = {"r2": "a second try"}.get(name)
            tags = spec["tags"] or None
            run = gitruns.start_run(name, params=spec["params"], tags=tags, notes=notes, repo=repo)
            for key, value in spec["metrics"].items():
                run.log_metric(key, value)
            run.end("FAILED" if spec["fail"] else "FINISHED")
            ids[name] = run.id
    return repo, ids


def test_every_spelling_parses_to_its_key() -> None:
    assert parse('metrics."X//Y#$$@&Z" = 3') == parse("metrics.`X//Y#$$@&Z` = 3")
    assert parse('params."p.a.r.a.m" != "a"') == parse('params.`p.a.r.a.m` != "a"')
    assert parse("`metric`.a >= 0.1") == parse("metrics.a >= 0.1")
    assert parse("run.status = 'RUNNING'") == parse("status = 'RUNNING'")
    assert parse("tags.`mlflow.runName` = 'x'") == parse("name = 'x'")
    assert parse("tags.mlflow.parentRunId = 'x'") == parse("parent = 'x'")
    assert parse("tags.mlflow.source.name = 'x'") == parse("entry_point = 'x'")


def names_from_cli(repo: Path, ids: dict[str, str], text: str) -> set[str]:
    result = gitruns_cli(repo, "ls", "-q", "-f", text)
    assert result.returncode == 0, result.stderr
    by_id = {run_id: name for name, run_id in ids.items()}
    return {by_id[line] for line in result.stdout.split()}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_mlflow_case_through_the_api(
    mlflow_runs: tuple[Path, dict[str, str]], text: str, expected: set[str]
) -> None:
    repo, _ = mlflow_runs
    assert {run.name for run in gitruns.search_runs(text, repo=repo)} == expected
    assert parse(to_text(parse(text))) == parse(text)


@pytest.mark.slow
@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_mlflow_case_through_ls(
    mlflow_runs: tuple[Path, dict[str, str]], text: str, expected: set[str]
) -> None:
    repo, ids = mlflow_runs
    assert names_from_cli(repo, ids, text) == expected


def test_a_few_cases_through_ls(mlflow_runs: tuple[Path, dict[str, str]]) -> None:
    """The four spellings the issue found refused, and a mapped system tag, in one process
    each (the whole list runs through ls in the slow test above)."""
    repo, ids = mlflow_runs
    assert names_from_cli(repo, ids, "`metric`.key1 >= 123") == {"r1", "r2"}
    assert names_from_cli(repo, ids, "run.status = 'FINISHED'") == {"r1"}
    assert names_from_cli(repo, ids, 'params."my_param" != "A"') == {"r2"}
    assert names_from_cli(repo, ids, 'metrics."X-Y-Z" = 3') == {"r0"}
    assert names_from_cli(repo, ids, "tags.mlflow.runName = 'r1'") == {"r1"}


@pytest.mark.parametrize(("text", "problem"), ERRORS, ids=[e[0] for e in ERRORS])
def test_mlflow_error_case(
    mlflow_runs: tuple[Path, dict[str, str]], text: str, problem: str
) -> None:
    repo, _ = mlflow_runs
    with pytest.raises(InvalidInputError, match="syntax error") as caught:
        gitruns.search_runs(text, repo=repo)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["tags.mlflow.runname = 'x'", "attribute.artifact_uri = 'x'", "dataset.name = 'x'"],
)
def test_never_matching_keys_fail_in_ls(
    mlflow_runs: tuple[Path, dict[str, str]], text: str
) -> None:
    repo, _ = mlflow_runs
    result = gitruns_cli(repo, "ls", "-f", text)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("gitruns: error: syntax error at column")
    assert "Traceback" not in result.stderr


def test_source_name_is_the_script_that_ran(repo: Path) -> None:
    """``tags.mlflow.source.name`` is the entry point ``record`` saw; the command line
    and the note are fields too."""
    script = repo / "train.py"
    script.write_text("print('training')\n")
    result = gitruns_cli(
        repo, "record", "--name", "scripted", "--note", "tuned by hand", "--",
        sys.executable, "train.py", "--lr", "0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with gitruns.start_run("by-api"):
        pass
    found = gitruns.search_runs("tags.mlflow.source.name = 'train.py'", repo=repo)
    assert [run.name for run in found] == ["scripted"]
    found = gitruns.search_runs("command like '%train.py --lr 0.1'", repo=repo)
    assert [run.name for run in found] == ["scripted"]
    assert [r.name for r in gitruns.search_runs("note = 'tuned by hand'", repo=repo)] == [
        "scripted"
    ]
    out = gitruns_cli(repo, "ls", "-c", "name,entry_point", "--format", "json").stdout
    assert {"name": "scripted", "entry_point": "train.py"} in json.loads(out)
