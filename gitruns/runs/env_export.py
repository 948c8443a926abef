"""What rebuilds a run's environment: ``gitruns env RUN --format conda|pip|requirements``.

- ``conda``: the ``environment.yml`` recorded with the run (runs whose interpreter was in
  a conda environment; ``conda env create -f`` accepts it);
- ``pip``: the pip-freeze list of every distribution the interpreter could import, as
  recorded (``env/packages.txt``);
- ``requirements``: a requirements file for ``pip install -r``: the pip-freeze list,
  less what conda installed when the run was in a conda environment, with the Python
  version in a comment.
"""

from __future__ import annotations

from typing import Any

from gitruns.errors import InvalidInputError, InvalidRunError
from gitruns.format import layout, yamlio
from gitruns.runs.envinfo import read_env
from gitruns.runs.model import Run

FORMATS = ("conda", "pip", "requirements")


def export_environment(run: Run, fmt: str | None = None) -> str:
    """The run's environment in ``fmt`` (default: conda when the run has a conda
    environment, else requirements)."""
    if fmt is None:
        fmt = "conda" if run.file(layout.CONDA_ENVIRONMENT_FILE) is not None else "requirements"
    if fmt == "conda":
        return _conda(run)
    if fmt == "pip":
        return _text(run, layout.PACKAGES_FILE)
    if fmt == "requirements":
        return _requirements(run)
    raise InvalidInputError(f"unknown format {fmt!r}", f"use one of: {', '.join(FORMATS)}")


def _conda(run: Run) -> str:
    raw = run.file(layout.CONDA_ENVIRONMENT_FILE)
    if raw is not None:
        return raw.decode("utf-8", errors="replace")
    problem = _conda_document(run).get("error")
    if problem:
        raise InvalidInputError(
            f"run {run.name} could not read its conda environment when it ran ({problem})",
            "use --format requirements",
        )
    raise InvalidInputError(
        f"run {run.name} did not run in a conda environment",
        "use --format requirements (or --format pip)",
    )


def _text(run: Run, path: str) -> str:
    raw = run.file(path)
    if raw is None:
        raise InvalidInputError(
            f"run {run.name} recorded no package list ({path})",
            "runs recorded with 'gitruns record' have one",
        )
    return raw.decode("utf-8", errors="replace")


def _conda_document(run: Run) -> dict[str, Any]:
    try:
        raw = run.file(layout.CONDA_FILE)
        data = yamlio.load(raw, f"run {run.id} {layout.CONDA_FILE}") if raw else None
    except InvalidRunError:
        return {}
    return data if isinstance(data, dict) else {}


def _requirements(run: Run) -> str:
    conda = _conda_document(run)
    pip_part = conda.get("pip")
    if isinstance(pip_part, list):
        lines = [str(line) for line in pip_part if isinstance(line, str)]
    else:
        text = _text(run, layout.PACKAGES_FILE)
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    env = read_env(run)
    header = [f"# requirements of run {run.name} ({run.id}), recorded {run.start_time}"]
    if env.python:
        header.append(f"# python {env.python}; install with: pip install -r requirements.txt")
    if isinstance(pip_part, list):
        header.append(
            "# what pip installed on top of a conda environment; the conda part:"
            f" gitruns env {run.id[-8:]} --format conda"
        )
    return "\n".join([*header, *lines]) + "\n"
