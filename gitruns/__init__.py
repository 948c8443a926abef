"""gitruns: track machine-learning runs as git commits on hidden refs ``refs/runs/<id>``.

``import gitruns`` stays light: the API (and pygit2 with it) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitruns.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    GitrunsError,
    InvalidInputError,
    InvalidRunError,
    ParamConflictError,
    ReadOnlyRepositoryError,
    RepositoryError,
    RunNotFoundError,
    RunStateError,
    SkippedRunsWarning,
    StorageWriteError,
)

__version__ = "0.1.0"

_API_NAMES = {
    "active_run",
    "add_run_note",
    "delete_run_tags",
    "rename_run",
    "run_history",
    "set_run_tags",
    "end_run",
    "get_run",
    "list_runs",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "note",
    "set_tag",
    "set_tags",
    "start_run",
}

if TYPE_CHECKING:
    from gitruns.api import (
        active_run,
        add_run_note,
        delete_run_tags,
        end_run,
        get_run,
        list_runs,
        log_artifact,
        log_artifacts,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        note,
        rename_run,
        run_history,
        set_run_tags,
        set_tag,
        set_tags,
        start_run,
    )
    from gitruns.records import Run
    from gitruns.run import ActiveRun
    from gitruns.search import RunList, search_runs


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        from gitruns import api

        return getattr(api, name)
    if name in ("search_runs", "RunList"):
        from gitruns import search

        return getattr(search, name)
    if name == "Run":
        from gitruns.records import Run

        return Run
    if name == "ActiveRun":
        from gitruns.run import ActiveRun

        return ActiveRun
    raise AttributeError(f"module 'gitruns' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "AmbiguousRunError",
    "ConcurrentUpdateError",
    "GitrunsError",
    "InvalidInputError",
    "InvalidRunError",
    "ParamConflictError",
    "ReadOnlyRepositoryError",
    "RepositoryError",
    "Run",
    "RunList",
    "RunNotFoundError",
    "RunStateError",
    "SkippedRunsWarning",
    "StorageWriteError",
    "__version__",
    "active_run",
    "add_run_note",
    "delete_run_tags",
    "end_run",
    "get_run",
    "list_runs",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "note",
    "rename_run",
    "run_history",
    "search_runs",
    "set_run_tags",
    "set_tag",
    "set_tags",
    "start_run",
]
