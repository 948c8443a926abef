"""``mlflow.search_runs``: gitruns' filter language, MLflow's result shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gitruns.mlflow.entities import DEFAULT_EXPERIMENT_NAME, Run, ViewType, to_mlflow_run
from gitruns.mlflow.exceptions import MlflowException

BASE_COLUMNS = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]


def experiment_filter(
    experiment_ids: Sequence[str] | None,
    experiment_names: Sequence[str] | None,
    search_all: bool,
) -> str | None:
    """The gitruns filter term for the experiments asked for: by default the active one
    (``set_experiment``'s, else Default: runs of no experiment)."""
    import gitruns
    from gitruns.mlflow.experiments import name_of
    from gitruns.query.ast import quote_string

    if search_all:
        return None
    names: list[str] = [name_of(str(i)) for i in (experiment_ids or [])]
    names += list(experiment_names or [])
    if not names:
        names = [gitruns.get_experiment() or DEFAULT_EXPERIMENT_NAME]
    terms = [
        "experiment is null" if n == DEFAULT_EXPERIMENT_NAME else f"experiment = {quote_string(n)}"
        for n in dict.fromkeys(names)
    ]
    return " or ".join(terms)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs as a pandas DataFrame with MLflow's columns, or ``output_format="list"``: a
    list of ``Run`` objects with ``.info`` and ``.data``."""
    if output_format not in ("pandas", "list"):
        raise MlflowException(
            f"output_format {output_format!r} is not supported", "use 'pandas' or 'list'"
        )
    runs = find_runs(
        experiment_ids,
        filter_string,
        run_view_type,
        max_results,
        order_by,
        search_all_experiments,
        experiment_names,
    )
    return runs if output_format == "list" else to_frame(runs)


def find_runs(
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    run_view_type: int,
    max_results: int | None,
    order_by: Sequence[str] | None,
    search_all: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> list[Run]:
    import gitruns

    if run_view_type == ViewType.DELETED_ONLY:
        return []  # deleted runs are in gitruns' trash: 'gitruns trash' lists them
    scope = experiment_filter(experiment_ids, experiment_names, search_all)
    wanted = (filter_string or "").strip()
    parts = [f"({p})" for p in (scope, wanted) if p]
    query = " and ".join(parts) or None
    order = [_order_key(k) for k in (order_by or [])] or None
    return [to_mlflow_run(r) for r in gitruns.search_runs(query, order, max_results)]


def _order_key(key: str) -> str:
    """``metrics.rmse DESC`` passes through; MLflow's optional ``ASC`` is the default."""
    text = key.strip()
    return text[:-4].rstrip() if text.upper().endswith(" ASC") else text


def to_frame(runs: list[Run]) -> Any:
    import importlib

    try:
        pandas = importlib.import_module("pandas")
    except ImportError as exc:
        raise MlflowException(
            "search_runs() returns a pandas DataFrame, and pandas is not installed",
            "pip install pandas, or pass output_format='list'",
        ) from exc
    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "artifact_uri": run.info.artifact_uri,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
        }
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        rows.append(row)
    frame = pandas.DataFrame(rows, columns=_columns(rows))
    for column in ("start_time", "end_time"):
        frame[column] = pandas.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """MLflow's order: the run's attributes, then metrics, params and tags."""
    seen = dict.fromkeys(k for row in rows for k in row)
    ordered = list(BASE_COLUMNS)
    for prefix in ("metrics.", "params.", "tags."):
        ordered += [k for k in seen if k.startswith(prefix)]
    return ordered
