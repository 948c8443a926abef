"""``gitruns record -- COMMAND``: run any command as a recorded run."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        pairs.append((key, value))
    return pairs


@click.command(
    "record",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--name", "-n", default=None, help="Run name (default: a generated one).")
@click.option(
    "--experiment",
    "-e",
    default=None,
    metavar="NAME",
    help="Experiment the run belongs to (default: $GITRUNS_EXPERIMENT); the command's own "
    "gitruns/MLflow runs join it too.",
)
@click.option("--tag", "-t", "tags", multiple=True, metavar="K=V", help="Set a tag (repeatable).")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="K=V",
    help="Log a param; values keep their YAML type (repeatable).",
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Log a YAML, JSON or TOML config file's keys as params (repeatable).",
)
@click.option("--note", "notes", multiple=True, metavar="TEXT", help="Add a note (repeatable).")
@click.option(
    "--parent",
    "parents",
    multiple=True,
    metavar="RUN",
    help="A run this one builds on (repeatable).",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH",
    help="Record an input file with its sha256 (repeatable).",
)
@click.option(
    "--artifact",
    "artifacts",
    multiple=True,
    metavar="GLOB",
    help="Store files matching GLOB at the end as artifacts (repeatable; ** recurses).",
)
@click.option(
    "--system-interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between system-metric samples.",
)
@click.option(
    "--no-system-metrics", is_flag=True, help="Do not sample CPU, memory, I/O and GPU use."
)
@click.option(
    "--no-argv-params", is_flag=True, help="Do not parse the command's own flags into params."
)
@click.option(
    "--no-arg-capture",
    is_flag=True,
    help="Do not have a Python command report the arguments it parsed (argparse, click, "
    "Hydra); read its argv instead.",
)
@click.option(
    "--autolog",
    is_flag=True,
    help="Have a Python command log its Lightning, Transformers, Keras, XGBoost, LightGBM"
    " and Optuna training to this run, unmodified (gitruns.autolog() in the command).",
)
@click.option(
    "--metric-regex",
    "metric_regexes",
    multiple=True,
    metavar="REGEX",
    help="Log printed lines' values as metrics: each named group is a key, a group named"
    " step the step (repeatable).",
)
@click.option(
    "--no-import-metrics",
    is_flag=True,
    help="Do not import TensorBoard event files and metrics.csv files the command wrote.",
)
@click.option(
    "--max-output",
    type=click.IntRange(min=1024),
    default=2 * 1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Bytes of stdout (and of stderr) kept; head and tail survive, the middle is cut.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(
    name: str | None,
    experiment: str | None,
    tags: tuple[str, ...],
    params: tuple[str, ...],
    configs: tuple[Path, ...],
    notes: tuple[str, ...],
    parents: tuple[str, ...],
    inputs: tuple[str, ...],
    artifacts: tuple[str, ...],
    system_interval: float,
    no_system_metrics: bool,
    no_argv_params: bool,
    no_arg_capture: bool,
    autolog: bool,
    metric_regexes: tuple[str, ...],
    no_import_metrics: bool,
    max_output: int,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and record everything about it as a run.

    Output is shown live and saved; the exit code is the command's own. A Python
    command's parsed arguments (argparse, click) and Hydra config become params, exactly
    as the program saw them; other commands' flags (--lr 0.01) are read from argv. Inside
    it, the first gitruns.start_run() and `gitruns log-metric` add to this same run.
    TensorBoard event files and metrics.csv files it writes are imported as metrics at
    the end; only files it wrote become --artifact artifacts. With --autolog, a
    Python command's framework training logs to this run with no code change
    (docs/integrations.md).

    \b
    Examples:
      gitruns record -- python train.py --lr 0.01 --epochs 10
      gitruns record -n baseline -t model=mlp --artifact 'out/*.pt' -- python train.py
      gitruns record --experiment wine -- python train.py --alpha 0.5
      gitruns record --config conf.yaml -- ./train.sh
      gitruns record -- python my_app.py --multirun db=mysql,postgresql
      gitruns record --autolog -- python train_lightning.py
      gitruns record --metric-regex 'valid loss (?P<val_loss>[0-9.]+)' -- python main.py
    """
    from gitruns.cli.record_argv import exit_at_once, run_record
    from gitruns.format.yamlio import parse_scalar
    from gitruns.recorder.recorder import RecordOptions

    options = RecordOptions(
        command=list(command),
        name=name,
        experiment=experiment,
        tags=dict(_pairs(tags, "--tag")),
        params={k: parse_scalar(v) for k, v in _pairs(params, "--param")},
        configs=list(configs),
        notes=list(notes),
        parents=list(parents),
        inputs=list(inputs),
        artifacts=list(artifacts),
        system_interval=None if no_system_metrics else system_interval,
        parse_argv=not no_argv_params,
        capture_args=not no_arg_capture,
        max_output_bytes=max_output,
        metric_regexes=list(metric_regexes),
        import_metrics=not no_import_metrics,
        autolog=autolog,
    )
    exit_code = run_record(options, lambda text: click.echo(text, err=True))
    from gitruns.cli import entry

    if entry.running_as_program:  # not when click is driven from Python (CliRunner)
        exit_at_once(exit_code)
    sys.exit(exit_code)


commands = [command]
