"""``gitruns report --base REF``: the report of a branch's runs against a baseline on its
base (the runs chosen as ``gitruns review`` chooses them, gitruns.review.branch_review).

markdown and json are the review's own renderers (a pull-request comment within its size
limit; every delta); html is the dashboard's report of the baseline and the head runs,
with the review's data beside it.
"""

from __future__ import annotations

from gitruns.display.review import review_json, review_markdown
from gitruns.errors import InvalidInputError
from gitruns.review.branch_review import review_branch
from gitruns.review.links import WebLinks
from gitruns.runs.model import Run
from gitruns.storage import Store
from gitruns.ui.report import MAX_RUNS, html, report_data


def branch_report(
    store: Store,
    fmt: str,
    base: str,
    head: str = "HEAD",
    filter: str | None = None,
    baseline: str | None = None,
    *,
    links: WebLinks | None = None,
    report_url: str | None = None,
) -> tuple[str, int]:
    """The report's text in ``fmt`` and how many runs it holds."""
    review = review_branch(store, base, head, filter, baseline, max_runs=MAX_RUNS - 1)
    count = len(review.runs) + (review.baseline is not None)
    if fmt == "markdown":
        return review_markdown(review, links, report_url), count
    if fmt == "json":
        return review_json(review), count
    runs: list[tuple[Run, str]] = [(head_run.run, head_run.origin) for head_run in review.runs]
    if review.baseline is not None:
        runs.insert(0, (review.baseline, review.baseline_origin or "local"))
    if not runs:
        raise InvalidInputError(
            f"no runs on {review.code.base}..{review.code.head} and no baseline on "
            f"{review.code.base}",
            "record a run on the branch, or check --base and --filter",
        )
    data = report_data(store, runs, filter)
    data["review"] = review.to_dict()
    return html(data), count
