"""MLflow's tracking API over gitruns: ``import gitruns.mlflow as mlflow`` and MLflow
tracking code runs unchanged, recording gitruns runs in the git repository.

Light to import (every part loads on first use). What has no meaning here (the model
registry, ``log_model`` and the flavour modules, serving) raises ``UnsupportedError``
naming the gitruns way. docs/mlflow.md maps every function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitruns.mlflow.exceptions import MlflowException, UnsupportedError, unsupported

_FLUENT = "gitruns.mlflow.fluent"
_PUBLIC = {
    name: _FLUENT
    for name in (
        "ActiveRun",
        "active_run",
        "autolog",
        "delete_run",
        "delete_tag",
        "end_run",
        "get_artifact_uri",
        "get_run",
        "get_tracking_uri",
        "is_tracking_uri_set",
        "last_active_run",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_figure",
        "log_image",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_table",
        "log_text",
        "set_experiment",
        "set_tag",
        "set_tags",
        "set_tracking_uri",
        "start_run",
    )
}
_PUBLIC.update(
    {
        "create_experiment": "gitruns.mlflow.experiments",
        "get_experiment": "gitruns.mlflow.experiments",
        "get_experiment_by_name": "gitruns.mlflow.experiments",
        "search_experiments": "gitruns.mlflow.experiments",
        "search_runs": "gitruns.mlflow.search",
        "MlflowClient": "gitruns.mlflow.client",
        "entities": "gitruns.mlflow.entities",
        "tracking": "gitruns.mlflow.tracking",
        "exceptions": "gitruns.mlflow.exceptions",
    }
)
_MODULES = ("entities", "tracking", "exceptions")

# MLflow parts with no gitruns meaning, and what to do instead.
_MODEL_WAY = (
    "gitruns records runs, not models: save the model file yourself and log it with "
    "mlflow.log_artifact(path) (content-addressed, deduplicated)"
)
_UNSUPPORTED = {
    "log_model": _MODEL_WAY,
    "load_model": _MODEL_WAY,
    "register_model": "there is no model registry: tag the run (set_tag('stage', 'prod')) "
    "and find it with search_runs",
    "pyfunc": _MODEL_WAY,
    "models": _MODEL_WAY,
    "deployments": "gitruns does not serve models: serve the artifact with your own server",
    "evaluate": "compute the metrics yourself and log them with log_metric",
    "log_input": "log the data file as lineage: mlflow.active_run().gitruns_run.log_input(path)",
    "data": "log the data file as lineage: mlflow.active_run().gitruns_run.log_input(path)",
    "projects": "run the entry point under 'gitruns record -- python train.py'",
    "run": "run the entry point under 'gitruns record -- python train.py'",
    "trace": "gitruns does not record traces",
    "tracing": "gitruns does not record traces",
    "genai": "gitruns does not record traces or prompts",
    "set_registry_uri": "there is no model registry",
    "get_registry_uri": "there is no model registry",
}
_FLAVOURS = (
    "sklearn",
    "pytorch",
    "tensorflow",
    "keras",
    "xgboost",
    "lightgbm",
    "catboost",
    "transformers",
    "sentence_transformers",
    "spark",
    "onnx",
    "statsmodels",
    "prophet",
    "h2o",
    "langchain",
    "openai",
    "spacy",
    "fastai",
    "paddle",
)

if TYPE_CHECKING:
    from gitruns.mlflow import entities, tracking
    from gitruns.mlflow.client import MlflowClient
    from gitruns.mlflow.experiments import (
        create_experiment,
        get_experiment,
        get_experiment_by_name,
        search_experiments,
    )
    from gitruns.mlflow.fluent import (
        ActiveRun,
        active_run,
        autolog,
        delete_run,
        delete_tag,
        end_run,
        get_artifact_uri,
        get_run,
        get_tracking_uri,
        is_tracking_uri_set,
        last_active_run,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_image,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from gitruns.mlflow.search import search_runs


class _Unsupported:
    """Stands for an MLflow function or flavour module that gitruns has no use for:
    calling it, or anything in it, raises ``UnsupportedError`` with the gitruns way."""

    def __init__(self, what: str, instead: str) -> None:
        self._what, self._instead = what, instead

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise unsupported(f"mlflow.{self._what}()", self._instead)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(f"mlflow.{self._what}.{name}", self._instead)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module = importlib.import_module(_PUBLIC[name])
        return module if name in _MODULES else getattr(module, name)
    if name in _UNSUPPORTED:
        return _Unsupported(name, _UNSUPPORTED[name])
    if name in _FLAVOURS:
        return _Unsupported(name, _MODEL_WAY)
    raise AttributeError(f"module 'gitruns.mlflow' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "MlflowClient",
    "MlflowException",
    "UnsupportedError",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "entities",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "tracking",
]
