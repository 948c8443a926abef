"""``gitruns review`` (a branch's runs against a baseline, for a pull request) and
``gitruns check`` (a metric gate for CI)."""

from __future__ import annotations

import click

_BASELINE_HELP = (
    "The run to compare with: 'latest' (default: the newest finished run on the base), "
    "'best FIELD' or 'max FIELD' (the highest, e.g. 'best metrics.acc'), 'min FIELD' (the "
    "lowest), or a run id or name."
)
_FILTER_HELP = "Only runs matching EXPR (the filter language of gitruns ls), on both sides."


@click.command("review")
@click.option(
    "--base",
    required=True,
    metavar="REF",
    help="The branch the changes go into (e.g. origin/main); the baseline comes from it.",
)
@click.option(
    "--head", default="HEAD", show_default=True, metavar="REF", help="The branch to review."
)
@click.option("--filter", "-f", "filter_", metavar="EXPR", help=_FILTER_HELP)
@click.option(
    "--baseline", metavar="RULE", default="latest", show_default=True, help=_BASELINE_HELP
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="markdown fits a pull-request comment (65,536 characters); json holds everything.",
)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option(
    "--link-base",
    metavar="URL",
    help="The repository's web address for commit links (default: from GITHUB_SERVER_URL "
    "and GITHUB_REPOSITORY, CI_PROJECT_URL, or the origin remote's URL).",
)
@click.option("--report-url", metavar="URL", help="Link to a full report (e.g. a CI artifact).")
def review_command(
    base: str,
    head: str,
    filter_: str | None,
    baseline: str,
    fmt: str,
    output: str | None,
    link_base: str | None,
    report_url: str | None,
) -> None:
    """Show the runs of a branch against a baseline run on its base: the runs whose code
    commit is in BASE..HEAD (the branch's own commits), each metric's change from the
    baseline with its sign and size, the params that differ, and the commits.

    \b
    Examples:
      gitruns review --base main
      gitruns review --base origin/main --baseline 'best metrics.acc' -o comment.md
      gitruns review --base origin/main -f 'params.dataset = "v2"' --format json
    """
    import os

    from gitruns.display.review import review_json, review_markdown
    from gitruns.recording.repository import open_store
    from gitruns.review.branch_review import review_branch
    from gitruns.review.links import web_links

    store = open_store()
    review = review_branch(store, base, head, filter_, baseline)
    for ref, why in review.problems:
        click.echo(f"gitruns: warning: skipping {ref}: {why}", err=True)
    if fmt == "json":
        text = review_json(review)
    else:
        remote = store.config_value("remote.origin.url")
        text = review_markdown(review, web_links(os.environ, remote, link_base), report_url)
    _write(text, output)


@click.command("check")
@click.argument("expressions", nargs=-1, required=True, metavar="EXPR...")
@click.option(
    "--base",
    metavar="REF",
    help="Judge the runs of BASE..HEAD, and take the baseline from BASE. Without it, the "
    "runs of the HEAD commit itself are judged.",
)
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="The branch judged.")
@click.option("--filter", "-f", "filter_", metavar="EXPR", help=_FILTER_HELP)
@click.option(
    "--baseline", metavar="RULE", default="latest", show_default=True, help=_BASELINE_HELP
)
@click.option("--latest", "latest_only", is_flag=True, help="Judge only the newest head run.")
@click.option(
    "--if-nothing",
    type=click.Choice(["error", "pass", "fail"]),
    default="error",
    show_default=True,
    help="With no run to judge (or no baseline for baseline. fields): exit 2 (error), "
    "0 (pass) or 1 (fail).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "junit", "json"]),
    default="text",
    show_default=True,
    help="github: annotations for GitHub Actions; junit: JUnit XML for any CI.",
)
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--junit", "junit_file", metavar="FILE", help="Also write JUnit XML to FILE.")
def check_command(
    expressions: tuple[str, ...],
    base: str | None,
    head: str,
    filter_: str | None,
    baseline: str,
    latest_only: bool,
    if_nothing: str,
    fmt: str,
    output: str | None,
    junit_file: str | None,
) -> None:
    """Check that every EXPR holds for every head run: exit 0 when all hold, 1 with a
    table of what failed, 2 when there is no run to judge (see --if-nothing).

    An EXPR is the filter language of gitruns ls (docs/querying.md) with arithmetic
    (+ - * /, put spaces around them) and baseline.FIELD for the baseline run's values.

    \b
    Examples:
      gitruns check --base origin/main 'metrics.acc >= baseline.metrics.acc - 0.01'
      gitruns check 'metrics.loss.min < 0.3' "duration < '2h'" 'status = "FINISHED"'
      gitruns check --base origin/main --baseline 'best metrics.acc' \\
          '(metrics.acc - baseline.metrics.acc) / baseline.metrics.acc > -0.02' \\
          --format github --junit gitruns-check.xml
    """
    import socket
    import sys

    from gitruns.display import check as render
    from gitruns.recording.repository import open_store
    from gitruns.review.check import FAIL, NOTHING_TO_JUDGE, check_runs

    result = check_runs(
        open_store(),
        list(expressions),
        base=base,
        head=head,
        filter=filter_,
        baseline=baseline,
        latest_only=latest_only,
    )
    for ref, why in result.problems:
        click.echo(f"gitruns: warning: skipping {ref}: {why}", err=True)
    host = socket.gethostname() or "localhost"
    if fmt == "junit":
        text = render.check_junit(result, host)
    else:
        text = {"text": render.check_text, "github": render.check_github}.get(
            fmt, render.check_json
        )(result)
    _write(text, output)
    if junit_file:
        _write(render.check_junit(result, host), junit_file)
    if output or fmt in ("junit", "json"):
        click.echo(render.summary_line(result), err=True)
    if result.outcome == NOTHING_TO_JUDGE:
        sys.exit({"error": 2, "pass": 0, "fail": 1}[if_nothing])
    sys.exit(1 if result.outcome == FAIL else 0)


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path

    from gitruns.errors import GitrunsError

    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GitrunsError(f"cannot write {output}: {exc.strerror}", "check the path") from exc


commands = [review_command, check_command]
