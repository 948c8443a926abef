"""Runs this process started through gitruns.mlflow (fluent or ``MlflowClient``), by id:
what a ``run_id=`` argument addresses while the run is still being recorded."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun

_lock = threading.Lock()
_runs: dict[str, ActiveRun] = {}
_last_ended: list[str] = []  # the id of the last run ended (MLflow's last_active_run)


def add(run: ActiveRun) -> None:
    with _lock:
        _runs[run.id] = run


def get(run_id: str) -> ActiveRun | None:
    with _lock:
        run = _runs.get(run_id)
    return run if run is not None and run.status == "RUNNING" else None


def ended(run: ActiveRun) -> None:
    with _lock:
        _runs.pop(run.id, None)
        _last_ended[:] = [run.id]


def last_ended() -> str | None:
    with _lock:
        return _last_ended[0] if _last_ended else None


def running() -> list[ActiveRun]:
    with _lock:
        return [r for r in _runs.values() if r.status == "RUNNING"]
