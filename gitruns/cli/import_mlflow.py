"""``gitruns import mlflow``: bring an MLflow store's runs into the repository."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from gitruns.display.safe_text import printable

if TYPE_CHECKING:
    from gitruns.importing.mlflow_import import ImportedRun, ImportReport


@click.group("import")
def import_group() -> None:
    """Bring runs recorded by another tracker into the repository.

    \b
    Examples:
      gitruns import mlflow ./mlruns
      gitruns import mlflow sqlite:///mlflow.db --experiment churn
    """


@import_group.command("mlflow")
@click.argument("location", metavar="PATH_OR_URI")
@click.option(
    "--experiment",
    "-e",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Import only this experiment (name or id); repeat for more. Default: every"
    " experiment that is not deleted.",
)
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    help="text: a line per run not imported, then the counts; json: the whole report.",
)
def mlflow_command(location: str, experiments: tuple[str, ...], dry_run: bool, fmt: str) -> None:
    """Import the runs of the MLflow store at PATH_OR_URI: an mlruns folder (MLflow's file
    store) or a sqlite database (a file, or sqlite:///path/to/mlflow.db). MLflow itself is
    not needed. Each run keeps its params, every metric point (step and timestamp), tags,
    status, start and end times, note, user, git commit and branch, parent run, experiment,
    and its artifacts when they are on this disk. The MLflow run id is the tag
    mlflow.run_id.

    Importing again creates nothing new: runs imported before are skipped, and a run that
    changed in MLflow since (status, end time, params) is reported and kept as imported
    (docs/mlflow.md says how to take the new version).
    Runs still RUNNING, and runs deleted in MLflow, are skipped. A run that cannot be
    imported is reported with why, and nothing of it is written; the exit code is then 1.

    \b
    Examples:
      gitruns import mlflow ./mlruns
      gitruns import mlflow sqlite:///mlflow.db --experiment churn --experiment baseline
      gitruns import mlflow ~/project/mlruns --dry-run
      gitruns import mlflow ./mlruns --format json | jq .counts
    """
    from gitruns.importing.mlflow_import import import_mlflow
    from gitruns.recording.repository import open_store

    store = open_store()
    progress = None if fmt == "json" else _print_line
    report = import_mlflow(
        store, location, experiments=experiments, dry_run=dry_run, progress=progress
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(printable(_summary(report)))
    if report.counts()["failed"]:
        raise SystemExit(1)


def _print_line(entry: ImportedRun) -> None:
    """One line per run that was not simply imported or skipped as imported before."""
    if entry.outcome in ("imported", "would import") and not entry.warnings:
        return
    if entry.outcome == "skipped" and entry.reason == "imported before":
        return
    label = entry.name or entry.mlflow_run_id
    where = f"{entry.experiment}/{label} (MLflow {entry.mlflow_run_id})"
    text = f"{entry.outcome}: {where}" + (f": {entry.reason}" if entry.reason else "")
    for warning in entry.warnings:
        text += f"\n  warning: {warning}"
    click.echo(printable(text, keep="\n"), err=entry.outcome == "failed")


def _summary(report: ImportReport) -> str:
    counts = report.counts()
    parts = [f"{n} {outcome}" for outcome, n in counts.items()]
    return f"{report.source}: " + ", ".join(parts)


commands = [import_group]
