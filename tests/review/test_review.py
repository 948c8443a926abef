"""gitruns review: runs chosen by branch, baselines, and the pull-request markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _compare_helpers import check_golden, make_run
from _review_helpers import RUN_IDS, build_branches, commit
from conftest import gitruns_cli

from gitruns.display.review import COMMENT_LIMIT, review_markdown
from gitruns.errors import GitrunsError
from gitruns.review.branch_review import branch_runs, review_branch
from gitruns.review.links import WebLinks, links_from_ci, links_from_remote
from gitruns.storage import Store


@pytest.fixture
def branches(repo: Path) -> dict[str, str]:
    return build_branches(repo)


def _names(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [row.name for row in rows]


def test_sides_and_baselines(repo: Path, branches: dict[str, str]) -> None:
    store = Store(repo)
    sides = branch_runs(store, "main", "feature")
    assert _names(sides.head) == ["feat-b", "feat-a"]  # newest first
    assert sorted(_names(sides.base)) == ["main-best", "main-crashed", "main-new", "main-old"]
    assert sides.code.count == 2 and sides.code.merge_base == branches["c2"]
    # latest finished run on main: main-crashed is newer but FAILED
    assert sides.baseline is not None and sides.baseline.name == "main-new"
    best = branch_runs(store, "main", "feature", baseline="best metrics.acc").baseline
    assert best is not None and best.name == "main-best"  # not the failed 0.99
    lowest = branch_runs(store, "main", "feature", baseline="min metrics.loss").baseline
    assert lowest is not None and lowest.name == "main-best"
    named = branch_runs(store, "main", "feature", baseline="main-old").baseline
    assert named is not None and named.run_id == RUN_IDS["main-old"]
    by_suffix = branch_runs(store, "main", "feature", baseline="0000a1").baseline
    assert by_suffix is not None and by_suffix.name == "main-old"
    # the filter applies to both sides
    only_v2 = branch_runs(store, "main", "feature", filter="params.lr = 0.05")
    assert _names(only_v2.head) == ["feat-b"] and only_v2.baseline is None
    # the base's own runs are not the head side of main..main, nor of feature..main's c4
    assert branch_runs(store, "main", "main").head == []
    assert _names(branch_runs(store, "feature", "main").head) == ["main-crashed", "main-new"]


def test_unknown_refs_and_baselines_are_errors(repo: Path, branches: dict[str, str]) -> None:
    store = Store(repo)
    with pytest.raises(GitrunsError, match="no branch or commit 'origin/main'"):
        branch_runs(store, "origin/main")
    with pytest.raises(GitrunsError, match="no run matches the baseline"):
        branch_runs(store, "main", baseline="nonesuch")
    result = gitruns_cli(repo, "review", "--base", "nope")
    assert result.returncode == 1
    assert result.stderr.startswith("gitruns: error: no branch or commit 'nope' (the base);")


def test_review_markdown_golden(repo: Path, branches: dict[str, str]) -> None:
    result = gitruns_cli(
        repo,
        "review",
        "--base",
        "main",
        "--baseline",
        "best metrics.acc",
        "--link-base",
        "https://github.com/ada/vision",
        "--report-url",
        "https://ci.example.com/report.html",
    )
    assert result.returncode == 0, result.stderr
    check_golden("review.md", result.stdout)
    # the numbers the golden file holds, said plainly: feat-b against main-best
    assert "| acc | 0.9 | 0.91 (▲ +0.01, +1.1%) | 0.88 (▼ -0.02, -2.2%) |" in result.stdout
    assert "| lr | 0.1 | 0.05 | 0.1 |" in result.stdout
    assert "## gitruns: 2 runs on `feature` against `main`" in result.stdout
    assert f"[c-{branches['f2'][:12]}]: https://github.com/ada/vision/commit/{branches['f2']}" in (
        result.stdout
    )


def test_review_json(repo: Path, branches: dict[str, str]) -> None:
    result = gitruns_cli(repo, "review", "--base", "main", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["baseline"]["name"] == "main-new"
    assert [r["name"] for r in data["runs"]] == ["feat-b", "feat-a"]
    assert data["code"]["count"] == 2
    assert [c["commit"] for c in data["code"]["commits"]] == [branches["f2"], branches["f1"]]
    acc = next(m for m in data["runs"][0]["against_baseline"]["metrics"] if m["key"] == "acc")
    assert acc["a"] == 0.85 and acc["b"] == 0.91
    assert acc["delta"] == pytest.approx(0.06) and acc["percent"] == pytest.approx(7.0588, 1e-3)
    lr = data["runs"][0]["against_baseline"]["params"]
    assert lr == [{"a": 0.1, "b": 0.05, "change": "changed", "key": "lr"}]


def test_a_branch_without_runs(repo: Path, branches: dict[str, str]) -> None:
    commit(repo, "later.py", "x = 1\n", 60)
    result = gitruns_cli(repo, "review", "--base", "feature~0", "--head", "HEAD")
    assert result.returncode == 0
    assert "No runs on `feature~0..feature` yet." in result.stdout
    assert "**Baseline**: `feat-b (000000f2)`" in result.stdout


def test_markdown_fits_a_comment_and_says_what_it_left_out(repo: Path) -> None:
    build_branches(repo)
    many = {f"eval/{'very_long_metric_name_' * 3}{i:04d}": [0.5, 0.6] for i in range(600)}
    for index in range(12):
        make_run(
            f"sweep-{index}", params={"lr": index / 100, f"extra{index}": "x" * 80}, metrics=many
        )
    store = Store(repo)
    review = review_branch(store, "main", "feature")
    text = review_markdown(review)
    assert len(text) <= COMMENT_LIMIT
    assert "more metrics not shown" in text and "older runs of the branch not shown" in text
    small = review_markdown(review, limit=3000)
    assert len(small) <= 3000 and "more metrics not shown" in small
    tiny = review_markdown(review, limit=800)
    assert len(tiny) <= 800 and "cut to fit" in tiny


def test_links() -> None:
    gh = links_from_remote("git@github.com:ada/vision.git")
    assert gh == WebLinks("https://github.com/ada/vision")
    assert gh.compare("a", "b") == "https://github.com/ada/vision/compare/a...b"
    gl = links_from_remote("https://oauth2:secret@gitlab.com/group/sub/proj.git")
    assert gl == WebLinks("https://gitlab.com/group/sub/proj", gitlab=True)
    assert gl.commit("abc") == "https://gitlab.com/group/sub/proj/-/commit/abc"
    assert links_from_remote("/srv/git/proj.git") is None
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}
    assert links_from_ci(env) == WebLinks("https://github.com/o/r")
    assert links_from_ci({"CI_PROJECT_URL": "https://gitlab.example.com/g/p"}) == WebLinks(
        "https://gitlab.example.com/g/p", gitlab=True
    )


def test_report_base_is_the_review(repo: Path, branches: dict[str, str], tmp_path: Path) -> None:
    """gitruns report --base: markdown and json are the review's; html is the dashboard's
    report of the baseline and the head runs, with the review's data inside."""
    import re

    args = ("--base", "main", "--baseline", "best metrics.acc", "--link-base", "https://x.test/r")
    review = gitruns_cli(repo, "review", *args)
    report = gitruns_cli(
        repo,
        "report",
        *args[:4],
        "--format",
        "markdown",
        env={"GITHUB_SERVER_URL": "https://x.test", "GITHUB_REPOSITORY": "r"},
    )
    assert report.returncode == 0, report.stderr
    assert report.stdout == review.stdout  # links from CI's variables, as --link-base gave
    page_path = tmp_path / "pr.html"
    result = gitruns_cli(repo, "report", *args[:4], "-o", str(page_path))
    assert result.returncode == 0 and "(3 runs, html)" in result.stderr
    page = page_path.read_text()
    data = json.loads(re.search(r'id="gitruns-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert [r["name"] for r in data["runs"]] == ["main-best", "feat-b", "feat-a"]
    assert data["review"]["baseline"]["name"] == "main-best"
    both = gitruns_cli(repo, "report", "feat-a", "--base", "main")
    assert both.returncode == 1 and "RUNS and --base both given" in both.stderr
