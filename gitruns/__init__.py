"""gitruns: track machine-learning runs as git commits on hidden refs ``refs/runs/<id>``.

``import gitruns`` stays light: the API (and pygit2 with it) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitruns.errors import (
    AmbiguousRunError,
    ArtifactError,
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
from gitruns.version import __version__

# The lazily loaded part of the public API: each name and the module it lives in.
_PUBLIC = {
    "add_run_note": "gitruns.api",
    "delete_run_tags": "gitruns.api",
    "end_run": "gitruns.api",
    "get_artifact": "gitruns.api",
    "get_experiment": "gitruns.api",
    "get_run": "gitruns.api",
    "list_runs": "gitruns.api",
    "log_artifact": "gitruns.api",
    "log_artifacts": "gitruns.api",
    "log_metric": "gitruns.api",
    "log_metrics": "gitruns.api",
    "log_param": "gitruns.api",
    "log_params": "gitruns.api",
    "note": "gitruns.api",
    "rename_run": "gitruns.api",
    "run_history": "gitruns.api",
    "set_experiment": "gitruns.api",
    "set_run_tags": "gitruns.api",
    "set_tag": "gitruns.api",
    "set_tags": "gitruns.api",
    "start_run": "gitruns.api",
    "RunList": "gitruns.query.search",
    "search_runs": "gitruns.query.search",
    "ActiveRun": "gitruns.recording.active",
    "active_run": "gitruns.recording.stack",
    "Run": "gitruns.runs.model",
    "autolog": "gitruns.integrations.autolog",
}

if TYPE_CHECKING:
    from gitruns.api import (
        add_run_note,
        delete_run_tags,
        end_run,
        get_artifact,
        get_experiment,
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
        set_experiment,
        set_run_tags,
        set_tag,
        set_tags,
        start_run,
    )
    from gitruns.integrations.autolog import autolog
    from gitruns.query.search import RunList, search_runs
    from gitruns.recording.active import ActiveRun
    from gitruns.recording.stack import active_run
    from gitruns.runs.model import Run


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'gitruns' has no attribute {name!r}")


# The exported names (a literal, for type checkers and linters): the errors, the version and
# every name of _PUBLIC. tests/test_public_api.py keeps the three in step.
__all__ = [
    "ActiveRun",
    "AmbiguousRunError",
    "ArtifactError",
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
    "autolog",
    "delete_run_tags",
    "end_run",
    "get_artifact",
    "get_experiment",
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
    "set_experiment",
    "set_run_tags",
    "set_tag",
    "set_tags",
    "start_run",
]
