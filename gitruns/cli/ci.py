"""``gitruns ci init``: write a CI workflow that records, pushes, reports and gates runs."""

from __future__ import annotations

import click


@click.group("ci")
def ci_group() -> None:
    """Set up CI to record runs and review them in pull requests (docs/ci.md)."""


@ci_group.command("init")
@click.argument("host", type=click.Choice(["github", "gitlab"]))
@click.option(
    "--train",
    default="python train.py",
    show_default=True,
    metavar="CMD",
    help="The training command, recorded with gitruns record.",
)
@click.option("--eval", "evaluate", metavar="CMD", help="An evaluation command, recorded too.")
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="EXPR",
    help='A gitruns check expression (repeatable). Default: status = "FINISHED".',
)
@click.option(
    "--baseline",
    default="latest",
    show_default=True,
    metavar="RULE",
    help="The baseline rule of review and check ('best metrics.acc', a run).",
)
@click.option(
    "--install",
    default="pip install gitruns",
    show_default=True,
    metavar="CMD",
    help="The command that installs your project and gitruns.",
)
@click.option(
    "--python",
    "python_version",
    default="3.11",
    show_default=True,
    help="The Python version of the job.",
)
@click.option(
    "--branch",
    default="main",
    show_default=True,
    help="The default branch: runs recorded there become baselines.",
)
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    help="Where to write (default: .github/workflows/gitruns.yml or .gitlab-ci.yml).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(
    host: str,
    train: str,
    evaluate: str | None,
    checks: tuple[str, ...],
    baseline: str,
    install: str,
    python_version: str,
    branch: str,
    output: str | None,
    force: bool,
) -> None:
    """Write a CI file for HOST (github or gitlab) that fetches runs, records the training
    (and evaluation) with gitruns record, pushes the runs back, and on pull requests posts
    gitruns review as a comment and gates with gitruns check.

    \b
    Examples:
      gitruns ci init github --train 'python train.py --epochs 3' \\
          --check 'metrics.acc >= baseline.metrics.acc - 0.01'
      gitruns ci init gitlab --eval 'python eval.py' --baseline 'best metrics.acc'
    """
    from pathlib import Path

    from gitruns.errors import GitrunsError
    from gitruns.recording.repository import open_store
    from gitruns.review.workflows import DEFAULT_CHECK, HOSTS, WorkflowOptions, render

    options = WorkflowOptions(
        train, evaluate, list(checks) or [DEFAULT_CHECK], baseline, install, python_version, branch
    )
    text = render(host, options)
    if output is None:
        store = open_store()
        root = store.workdir or Path.cwd()
        path = Path(root) / HOSTS[host]
    else:
        path = Path(output)
    if path.exists() and not force:
        raise GitrunsError(f"{path} exists", "give --force to overwrite it, or -o another file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GitrunsError(f"cannot write {path}: {exc.strerror}", "check the path") from exc
    click.echo(f"wrote {path}; commit it, and read docs/ci.md for push rights", err=True)


commands = [ci_group]
