"""``gitruns bisect``: the commit where a metric condition first failed (git bisect run)."""

from __future__ import annotations

import click


@click.command("bisect", context_settings={"ignore_unknown_options": True})
@click.argument("expression", metavar="EXPR")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--good", metavar="REV", required=True, help="A commit where EXPR held.")
@click.option(
    "--bad", metavar="REV", default="HEAD", show_default=True, help="A commit where it fails."
)
@click.option("--filter", "-f", "filter_", metavar="EXPR", help="Judge only runs matching EXPR.")
@click.option(
    "--no-reset", is_flag=True, help="Stay at the first bad commit (git bisect reset later)."
)
@click.option("--step", is_flag=True, hidden=True, help="Judge the checked-out commit (for git).")
def bisect_command(
    expression: str,
    command: tuple[str, ...],
    good: str,
    bad: str,
    filter_: str | None,
    no_reset: bool,
    step: bool,
) -> None:
    """Find the first commit between --good and --bad where EXPR fails, with git bisect run.

    At each commit git checks out, EXPR is judged on the finished runs recorded there; where
    there are none, COMMAND (after --) is recorded with gitruns record and judged. A commit
    whose command does not finish is skipped. The work tree must be clean.

    \b
    Examples:
      gitruns bisect 'metrics.acc >= 0.9' --good v1.0 -- python train.py --epochs 3
      gitruns bisect 'metrics.loss.min < 0.3' --good HEAD~16 -f 'params.dataset = "v2"'
    """
    import sys

    from gitruns.recording.repository import open_store
    from gitruns.review import bisect

    if step:
        sys.exit(_step(expression, filter_, command))
    bisect.parse_condition(expression)
    store = open_store()
    step_argv = [sys.executable, "-m", "gitruns", "bisect", expression, "--step", "--good", good]
    step_argv += (["--filter", filter_] if filter_ else []) + ["--", *command]
    outcome = bisect.run_bisect(
        store, good, bad, step_argv, reset=not no_reset, output=sys.stderr.fileno()
    )
    if outcome.first_bad is None:
        from gitruns.errors import GitrunsError

        raise GitrunsError(
            "git bisect could not name a first bad commit (commits were skipped)",
            "see 'git bisect log' above; record runs at the skipped commits and try again",
        )
    subject = store.git("log", "-1", "--format=%s", outcome.first_bad).strip()
    click.echo(f"first bad commit: {outcome.first_bad} {subject}")


def _step(expression: str, filter_: str | None, command: tuple[str, ...]) -> int:
    """Run by git bisect at each commit; any error aborts the bisection (exit 128), never
    passes for 'bad'."""
    from gitruns.cli.errors import run_guarded
    from gitruns.display.check import run_label, values_text
    from gitruns.recording.repository import open_store
    from gitruns.review import bisect

    def judge() -> int:
        result = bisect.step(open_store(), expression, filter_, command)
        word = {bisect.GOOD: "good", bisect.BAD: "bad", bisect.SKIP: "skip"}[result.status]
        click.echo(f"gitruns bisect: {result.commit[:12]} {word} {result.why}".rstrip(), err=True)
        for verdict in result.verdicts:
            click.echo(f"  {run_label(verdict.run)}: {values_text(verdict.values)}", err=True)
        return result.status

    try:
        status: int = run_guarded(judge)
    except SystemExit:  # run_guarded exits 1 on an error: that must not read as "bad"
        return bisect.ABORT
    return status


commands = [bisect_command]
