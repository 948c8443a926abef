"""gitruns check: exit codes, the table of failures, GitHub annotations, JUnit XML validated
against the JUnit schema (tests/schemas/junit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xmlschema
from _review_helpers import build_branches
from conftest import gitruns_cli

JUNIT_XSD = Path(__file__).parents[1] / "schemas" / "junit" / "JUnit.xsd"
GATE = "metrics.acc >= baseline.metrics.acc - 0.01"


@pytest.fixture
def branches(repo: Path) -> dict[str, str]:
    return build_branches(repo)


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def check(repo: Path, *args: str) -> tuple[int, str, str]:
    result = gitruns_cli(repo, "check", *args)
    return result.returncode, result.stdout, result.stderr


def test_all_hold_exits_0(repo: Path, branches: dict[str, str]) -> None:
    # against main-new (0.85): feat-a 0.88 and feat-b 0.91 both hold
    code, out, _ = check(repo, "--base", "main", GATE, "metrics.loss.min < 0.3", "duration < '2h'")
    assert code == 0, out
    assert out.splitlines()[0] == "gitruns check: passed: 6 check(s) on 2 runs"
    assert "baseline: main-new (000000a4)" in out


def test_a_failure_exits_1_with_a_table(repo: Path, branches: dict[str, str]) -> None:
    # against the best run on main (0.90): feat-a (0.88) fails by more than 0.01
    code, out, _ = check(repo, "--base", "main", "--baseline", "best metrics.acc", GATE)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "gitruns check: FAILED: 1 of 2 check(s) on 2 runs"
    failed = [line for line in lines if line.startswith(GATE)]
    assert len(failed) == 1
    assert "feat-a (000000f1)" in failed[0]
    assert "metrics.acc = 0.88, baseline.metrics.acc = 0.9" in failed[0]
    # --latest judges feat-b only, which holds
    assert check(repo, "--base", "main", "--baseline", "best metrics.acc", "--latest", GATE)[0] == 0


def test_relative_change_and_plain_conditions(repo: Path, branches: dict[str, str]) -> None:
    relative = "(metrics.acc - baseline.metrics.acc) / baseline.metrics.acc > -0.01"
    assert check(repo, "--base", "main", "--baseline", "main-best", relative)[0] == 1
    assert check(repo, "--base", "main", "--baseline", "main-old", relative)[0] == 0
    assert check(repo, "--base", "main", "duration < '1m'")[0] == 1  # runs took 64-65 s
    assert check(repo, "--base", "main", "params.layers = baseline.params.layers")[0] == 0


def test_nothing_to_judge_exits_2_or_as_configured(repo: Path, branches: dict[str, str]) -> None:
    code, out, _ = check(repo, "--base", "feature", GATE)
    assert code == 2
    assert out.startswith("gitruns check: nothing to judge: no run on feature..feature")
    assert check(repo, "--base", "feature", "--if-nothing", "pass", GATE)[0] == 0
    assert check(repo, "--base", "feature", "--if-nothing", "fail", GATE)[0] == 1
    # head runs, but no baseline on the base side matches the filter
    code, out, _ = check(repo, "--base", "main", "-f", "params.lr = 0.05", GATE)
    assert code == 2 and "no baseline" in out
    # without baseline fields, no baseline is needed
    assert check(repo, "--base", "main", "-f", "params.lr = 0.05", "metrics.acc > 0.9")[0] == 0


def test_without_base_judges_the_head_commit(repo: Path, branches: dict[str, str]) -> None:
    code, out, _ = check(repo, "metrics.acc > 0.9")  # HEAD is f2: feat-b only
    assert code == 0 and "on 1 run" in out
    assert check(repo, "--head", "HEAD~1", "metrics.acc > 0.9")[0] == 1  # feat-a
    assert check(repo, "--baseline", "main-best", "metrics.acc > baseline.metrics.acc")[0] == 0
    code, _, err = check(repo, GATE)
    assert code == 1 and "baseline fields need a baseline" in err


def test_bad_expressions_are_errors(repo: Path, branches: dict[str, str]) -> None:
    code, _, err = check(repo, "--base", "main", "metrics.acc >= baseline.metrics.acc -")
    assert code == 1
    assert err.startswith("gitruns: error: syntax error at column 38: expected a value")
    listing = gitruns_cli(repo, "ls", "-f", GATE)
    assert listing.returncode == 1
    err = listing.stderr
    assert "baseline fields are only known to 'gitruns check'" in err


def test_github_annotations(repo: Path, branches: dict[str, str]) -> None:
    code, out, _ = check(
        repo, "--base", "main", "--baseline", "best metrics.acc", GATE, "--format", "github"
    )
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("::error title=gitruns check%3A metrics.acc >= baseline.metrics.acc")
    assert first.endswith(
        "::" + f"{GATE} failed for run feat-a (000000f1): "
        "metrics.acc = 0.88, baseline.metrics.acc = 0.9"
    )
    code, out, _ = check(repo, "--base", "feature", GATE, "--format", "github")
    assert code == 2 and out.startswith("::warning title=gitruns check::no run on feature..feature")


def test_junit_reports_validate_against_the_schema(
    repo: Path, branches: dict[str, str], tmp_path: Path, junit_schema: xmlschema.XMLSchema
) -> None:
    failing = tmp_path / "failing.xml"
    code, out, err = check(
        repo,
        "--base",
        "main",
        "--baseline",
        "best metrics.acc",
        GATE,
        "metrics.acc > 0",
        "--format",
        "junit",
        "-o",
        str(failing),
    )
    assert code == 1 and out == "" and "FAILED" in err
    junit_schema.validate(str(failing))
    data = junit_schema.to_dict(str(failing))
    suites = data["testsuite"]
    assert [s["@name"] for s in suites] == ["feat-b (000000f2)", "feat-a (000000f1)"]
    assert [s["@failures"] for s in suites] == [0, 1]
    failure = suites[1]["testcase"][0]["failure"]
    assert failure["@message"] == "metrics.acc = 0.88, baseline.metrics.acc = 0.9"

    passing = tmp_path / "passing.xml"
    code, out, _ = check(repo, "--base", "main", GATE, "--junit", str(passing))
    assert code == 0 and out.startswith("gitruns check: passed")  # text on stdout, xml to file
    junit_schema.validate(str(passing))

    nothing = tmp_path / "nothing.xml"
    assert check(repo, "--base", "feature", GATE, "--junit", str(nothing))[0] == 2
    junit_schema.validate(str(nothing))
    assert junit_schema.to_dict(str(nothing))["testsuite"][0]["@errors"] == 1


def test_json(repo: Path, branches: dict[str, str]) -> None:
    code, out, _ = check(repo, "--base", "main", GATE, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["outcome"] == "pass"
    assert [v["values"]["metrics.acc"] for v in data["verdicts"]] == [0.91, 0.88]
    assert data["baseline"]["name"] == "main-new"


def test_run_data_reaches_the_terminal_and_the_comment_escaped(
    repo: Path, branches: dict[str, str]
) -> None:
    import time

    import yaml
    from _compare_helpers import make_run

    from gitruns.format import yamlio
    from gitruns.storage import Store

    # gitruns refuses such a name when recording: forge it, as a hostile remote could
    run_id = make_run("evil", metrics={"acc": [0.1]})  # on feature's head
    store = Store(repo)
    old = store.run_commit(run_id)
    assert old is not None
    tree = dict(store.iter_files(old))
    document = yaml.safe_load(tree["run.yaml"])
    document["name"] = "evil\x1b]52;c;aGk=\x07\u202e"
    tree["run.yaml"] = yamlio.dump(document)
    parents, _author, message, _when = store.commit_info(old)
    assert store.update_ref(
        run_id, store.create_run_commit(tree, parents, message, time.time()), old
    )
    code, out, _ = check(repo, "--base", "main", "metrics.acc > 0.5")
    assert code == 1 and "\x1b" not in out and "\u202e" not in out
    assert "evil\\x1b]52;c;aGk=\\x07\\u202e" in out
    review = gitruns_cli(repo, "review", "--base", "main").stdout
    assert "\x1b" not in review and "evil\\\\x1b]52;c;aGk=\\\\x07\\\\u202e" in review
