"""MLflow's entity shapes (``Run`` with ``.info`` and ``.data``, ``Experiment``, ``Metric``,
``FileInfo``) built from gitruns runs, so code reading them works unchanged."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitruns.format import layout

if TYPE_CHECKING:
    from gitruns.runs.model import Run as GitrunsRun

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @staticmethod
    def is_terminated(status: str) -> bool:
        return status in ("FINISHED", "FAILED", "KILLED", "CRASHED")


class ViewType:
    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


def experiment_id(name: str | None) -> str:
    """An experiment's id, the same on every machine: ``"0"`` for runs of no experiment
    (MLflow's Default), else a number derived from the name (MLflow's ids are numbers in
    strings; a registry would have to be shared, a hash of the name needs nothing)."""
    if name is None or name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_EXPERIMENT_ID
    return str(int(hashlib.sha256(name.encode()).hexdigest()[:15], 16))


def artifact_uri(run_id: str, path: str | None = None) -> str:
    """``runs:/<id>`` (MLflow's own scheme for a run's artifacts): the content lives in
    gitruns' content-addressed store, not in a folder of the run."""
    base = f"runs:/{run_id}"
    return f"{base}/{path.strip('/')}" if path else base


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass
class RunInfo:
    run_id: str
    run_name: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData

    def to_dictionary(self) -> dict[str, Any]:
        return {"info": vars(self.info).copy(), "data": vars(self.data).copy()}


@dataclass
class Metric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None


def param_text(value: Any) -> str:
    """A param as MLflow stores it: ``str(value)``."""
    return str(value)


def system_tags(run: GitrunsRun) -> dict[str, str]:
    """MLflow's system tags, from what gitruns recorded."""
    doc = run.document
    tags = {"mlflow.runName": run.name, "mlflow.user": _user(run), "mlflow.source.type": "LOCAL"}
    command = doc.get("command") or {}
    if command.get("entry_point"):
        tags["mlflow.source.name"] = str(command["entry_point"])
    if run.git.get("commit"):
        tags["mlflow.source.git.commit"] = str(run.git["commit"])
    if run.git.get("branch"):
        tags["mlflow.source.git.branch"] = str(run.git["branch"])
    if run.parents:
        tags["mlflow.parentRunId"] = run.parents[-1]  # a nested run's parent comes last
    if run.notes:
        tags["mlflow.note.content"] = str(run.notes[-1].get("text", ""))
    return tags


def _user(run: GitrunsRun) -> str:
    user = run.user
    return str(user.get("os_user") or user.get("name") or "")


def _ms(text: str | None) -> int | None:
    return int(layout.parse_time(text) * 1000) if text else None


def to_mlflow_run(run: GitrunsRun) -> Run:
    info = RunInfo(
        run_id=run.id,
        run_name=run.name,
        experiment_id=experiment_id(run.experiment),
        user_id=_user(run),
        status="FAILED" if run.status == "CRASHED" else run.status,
        start_time=_ms(run.start_time) or 0,
        end_time=_ms(run.end_time),
        artifact_uri=artifact_uri(run.id),
    )
    params = {k: param_text(v) for k, v in layout.flatten(run.params).items()}
    metrics = {k: float(s["last"]) for k, s in run.metrics.items()}
    tags = {**system_tags(run), **run.tags}
    return Run(info, RunData(metrics, params, tags))


@dataclass
class Param:
    key: str
    value: str


@dataclass
class RunTag:
    key: str
    value: str


class PagedList(list[Any]):
    """A page of results; everything fits in one page here, so ``token`` is None."""

    token: str | None = None
