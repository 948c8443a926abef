"""MLflow's experiments over gitruns' experiment names.

An experiment exists when a run belongs to it, or when this process created it
(``create_experiment``/``set_experiment`` before its first run). Its id is derived from its
name (``entities.experiment_id``), so two clones agree on it with nothing shared.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from gitruns.mlflow.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    Experiment,
    ViewType,
    experiment_id,
)
from gitruns.mlflow.exceptions import MlflowException

_lock = threading.Lock()
_created: dict[str, Experiment] = {}  # experiments made by this process (tags live here)


def _experiment(name: str) -> Experiment:
    with _lock:
        made = _created.get(name)
    if made is not None:
        return made
    return Experiment(experiment_id(name), name, f"gitruns:experiment/{name}")


def names_in_repository() -> set[str]:
    """Every experiment some run (local, fetched or in progress) belongs to."""
    from gitruns.query.search import select_runs
    from gitruns.recording.repository import open_store

    rows = select_runs(open_store(), None, [], None).rows
    return {row.experiment for row in rows if row.experiment is not None}


def all_experiments() -> list[Experiment]:
    with _lock:
        created = set(_created)
    names = sorted((names_in_repository() | created) - {DEFAULT_EXPERIMENT_NAME})
    return [_experiment(DEFAULT_EXPERIMENT_NAME)] + [_experiment(n) for n in names]


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    from gitruns.recording.experiment import check_experiment

    check_experiment(name)
    if name == DEFAULT_EXPERIMENT_NAME or name in names_in_repository() or name in _created:
        raise MlflowException(
            f"experiment '{name}' already exists", "use set_experiment() to make it active"
        )
    now = int(time.time() * 1000)
    made = Experiment(
        experiment_id(name),
        name,
        artifact_location or f"gitruns:experiment/{name}",
        tags={k: str(v) for k, v in (tags or {}).items()},
        creation_time=now,
        last_update_time=now,
    )
    with _lock:
        _created[name] = made
    return made.experiment_id


def get_experiment_by_name(name: str) -> Experiment | None:
    if name == DEFAULT_EXPERIMENT_NAME:
        return _experiment(name)
    if name in _created or name in names_in_repository():
        return _experiment(name)
    return None


def get_experiment(experiment_id_: str) -> Experiment:
    found = name_of(experiment_id_)
    return _experiment(found)


def name_of(experiment_id_: str) -> str:
    """The experiment name an id stands for (raises for an id no experiment has)."""
    wanted = str(experiment_id_)
    if wanted == DEFAULT_EXPERIMENT_ID:
        return DEFAULT_EXPERIMENT_NAME
    for experiment in all_experiments():
        if experiment.experiment_id == wanted:
            return experiment.name
    raise MlflowException(
        f"no experiment has id '{wanted}'",
        "ids come from create_experiment() or search_experiments(); or name it with "
        "set_experiment(experiment_name=...)",
    )


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    found = [] if view_type == ViewType.DELETED_ONLY else all_experiments()
    if filter_string:
        found = [e for e in found if _name_matches(e.name, filter_string)]
    if order_by:
        found.sort(key=lambda e: e.name, reverse="DESC" in order_by[0].upper())
    return found[:max_results] if max_results is not None else found


def _name_matches(name: str, filter_string: str) -> bool:
    """``name = 'x'``, ``name != 'x'``, ``name LIKE 'x%'``, ``name ILIKE ...``: the
    experiment filters MLflow code uses (an experiment has no other field here)."""
    import re

    match = re.fullmatch(
        r"\s*(?:attributes?\.)?name\s*(=|!=|LIKE|ILIKE)\s*(['\"])(.*)\2\s*",
        filter_string,
        re.IGNORECASE,
    )
    if match is None:
        raise MlflowException(
            f"experiment filter {filter_string!r} is not supported",
            "filter experiments by name: \"name = 'x'\" or \"name LIKE 'x%'\"",
        )
    op, value = match.group(1).upper(), match.group(3)
    if op == "=":
        return name == value
    if op == "!=":
        return name != value
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
    flags = re.IGNORECASE if op == "ILIKE" else 0
    return re.fullmatch(pattern, name, flags) is not None
