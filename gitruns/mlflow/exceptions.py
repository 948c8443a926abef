"""MLflow's exception names, as gitruns errors (the CLI and callers handle them alike)."""

from __future__ import annotations

from gitruns.errors import GitrunsError


class MlflowException(GitrunsError):
    """What ``mlflow.exceptions.MlflowException`` is: code catching it keeps working."""


class UnsupportedError(MlflowException):
    """An MLflow feature that has no meaning in gitruns; the message names the gitruns way."""


def unsupported(what: str, instead: str) -> UnsupportedError:
    return UnsupportedError(f"{what} is not part of gitruns.mlflow", instead)
