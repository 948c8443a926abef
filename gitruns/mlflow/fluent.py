"""MLflow's fluent API (``mlflow.start_run``, ``mlflow.log_metric`` ...) over gitruns runs."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitruns.mlflow import coerce, owned
from gitruns.mlflow.entities import (
    DEFAULT_EXPERIMENT_NAME,
    Experiment,
    Run,
    RunData,
    RunInfo,
    artifact_uri,
    experiment_id,
    to_mlflow_run,
)
from gitruns.mlflow.exceptions import MlflowException

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun as GitrunsActiveRun


class ActiveRun:
    """What ``start_run`` returns: a context manager with ``.info`` and ``.data``, read
    from the run as it is now (MLflow's are a copy taken at the start)."""

    def __init__(self, run: GitrunsActiveRun) -> None:
        self._run = run
        self._start_ms: int | None = None

    @property
    def gitruns_run(self) -> GitrunsActiveRun:
        """The gitruns run underneath (``log_input``, ``note`` ...)."""
        return self._run

    def _read(self) -> Run:
        import gitruns

        found = to_mlflow_run(gitruns.get_run(self._run.id, repo=self._run.store.workdir))
        self._start_ms = found.info.start_time
        return found

    @property
    def info(self) -> RunInfo:
        if self._run.status != "RUNNING" or self._start_ms is None:
            return self._read().info
        return RunInfo(
            run_id=self._run.id,
            run_name=self._run.name,
            experiment_id=experiment_id(self._run.experiment),
            user_id=self._read_user(),
            status="RUNNING",
            start_time=self._start_ms,
            end_time=None,
            artifact_uri=artifact_uri(self._run.id),
        )

    def _read_user(self) -> str:
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return ""

    @property
    def data(self) -> RunData:
        return self._read().data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._run.__exit__(exc_type, exc, tb)
        finally:
            owned.ended(self._run)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self._run.id!r}, run_name={self._run.name!r}>"


# -- runs ------------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """``mlflow.start_run``: a new gitruns run (under ``gitruns record``, the first one
    joins the recorded run). ``run_id`` names a run to resume: only the active run can be."""
    import gitruns

    active = gitruns.active_run()
    if run_id is not None:
        if active is not None and active.id == run_id:
            return ActiveRun(active)
        raise MlflowException(
            f"cannot resume run {run_id}: a recorded gitruns run is a commit and does not reopen",
            f"start a new run that builds on it: start_run(parent_run_id='{run_id}')",
        )
    plain_tags = {str(k): coerce.tag_value(v) for k, v in (tags or {}).items()}
    run_name = run_name or plain_tags.pop("mlflow.runName", None)
    description = description or plain_tags.pop("mlflow.note.content", None)
    parent_run_id = parent_run_id or plain_tags.pop("mlflow.parentRunId", None)
    parents: list[str] = []
    if parent_run_id is not None:
        if active is not None and active.id == parent_run_id:
            nested = True  # the outer run becomes the parent, as with nested=True
        else:
            parents.append(parent_run_id)
    experiment = _experiment_named(experiment_id)
    run = gitruns.start_run(
        run_name,
        tags=plain_tags,
        notes=description,
        parents=parents,
        nested=nested,
        log_system_metrics=log_system_metrics,
        experiment=experiment,
    )
    owned.add(run)
    return ActiveRun(run)


def _experiment_named(experiment_id_: str | None) -> str | None:
    if experiment_id_ is None:
        return None  # set_experiment's, else GITRUNS_EXPERIMENT's, else none
    from gitruns.mlflow.experiments import name_of

    name = name_of(str(experiment_id_))
    return None if name == DEFAULT_EXPERIMENT_NAME else name


def active_run() -> ActiveRun | None:
    import gitruns

    run = gitruns.active_run()
    return ActiveRun(run) if run is not None else None


def last_active_run() -> Run | None:
    """The active run, else the last run this process ended, read back."""
    import gitruns

    run = gitruns.active_run()
    run_id = run.id if run is not None else owned.last_ended()
    return to_mlflow_run(gitruns.get_run(run_id)) if run_id is not None else None


def end_run(status: str = "FINISHED") -> None:
    """End the active run; with none, do nothing (as MLflow)."""
    import gitruns

    run = gitruns.active_run()
    if run is None:
        return
    try:
        gitruns.end_run(status)
    finally:
        owned.ended(run)


def _target(run_id: str | None = None) -> GitrunsActiveRun:
    """The run a logging call writes to: ``run_id``'s if this process records it, else
    the active run, else a new one (MLflow starts one on the first log call)."""
    import gitruns

    if run_id is not None:
        run = owned.get(run_id) or _active_if(run_id)
        if run is None:
            raise MlflowException(
                f"run {run_id} is not being recorded by this process: a recorded run only "
                "takes tags and notes",
                "log to the active run, or set tags with MlflowClient().set_tag()",
            )
        return run
    return gitruns.active_run() or start_run().gitruns_run


def _active_if(run_id: str) -> GitrunsActiveRun | None:
    import gitruns

    run = gitruns.active_run()
    return run if run is not None and run.id == run_id else None


# -- metrics, params, tags -------------------------------------------------------------------
def log_metric(
    key: str,
    value: Any,
    step: Any = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    **_ignored: Any,  # model_id, dataset: logged models are not part of gitruns
) -> None:
    stamp = int(timestamp) if timestamp is not None else None
    number = coerce.metric_value(key, value)
    _target(run_id).log_metric(key, number, coerce.metric_step(key, step), stamp)


def log_metrics(
    metrics: Mapping[str, Any],
    step: Any = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    **_ignored: Any,
) -> None:
    run = _target(run_id)
    stamp = int(timestamp) if timestamp is not None else None
    for key, value in metrics.items():
        run.log_metric(key, coerce.metric_value(key, value), coerce.metric_step(key, step), stamp)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    _target().log_param(key, coerce.param_value(value))
    return value


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    run = _target(run_id)
    for key, value in params.items():
        run.log_param(key, coerce.param_value(value))


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    apply_tag(_target(), key, value)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    run = _target()
    for key, value in tags.items():
        apply_tag(run, key, value)


def apply_tag(run: GitrunsActiveRun, key: str, value: Any) -> None:
    """MLflow's system tags that are gitruns fields go there: the run name and the note."""
    if key == "mlflow.runName":
        run.set_name(str(value))
    elif key == "mlflow.note.content":
        run.note(str(value))
    else:
        run.set_tag(key, coerce.tag_value(value))


def delete_tag(key: str) -> None:
    _target().delete_tag(key)


# -- artifacts -------------------------------------------------------------------------------
def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    _target(run_id).log_artifact(Path(local_path), artifact_path or None)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """The folder's contents go under ``artifact_path`` (MLflow's layout: the folder's own
    name is not kept, unlike ``gitruns.log_artifacts``)."""
    run = _target(run_id)
    root = Path(local_dir)
    if not root.is_dir():
        raise MlflowException(f"{root} is not a folder", "pass a folder to log_artifacts")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parent = path.relative_to(root).parent.as_posix()
        parts = [p for p in ((artifact_path or "").strip("/"), parent) if p and p != "."]
        run.log_artifact(path, "/".join(parts) or None)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    return artifact_uri(_target().id, artifact_path)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    from gitruns.mlflow import artifact_files

    artifact_files.log_dict(_target(run_id), dictionary, artifact_file)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    from gitruns.mlflow import artifact_files

    artifact_files.log_bytes(_target(run_id), text.encode(), artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    from gitruns.mlflow import artifact_files

    artifact_files.log_figure(_target(), figure, artifact_file, save_kwargs or {})


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    from gitruns.mlflow import artifact_files

    artifact_files.log_image(_target(), image, artifact_file, key, step)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    from gitruns.mlflow import artifact_files

    artifact_files.log_table(_target(run_id), data, artifact_file)


# -- experiments -----------------------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None, **_ignored: Any
) -> Experiment:
    """Make new runs of this process belong to the experiment (created if new)."""
    import gitruns
    from gitruns.mlflow import experiments

    if (experiment_name is None) == (experiment_id is None):
        raise MlflowException(
            "set_experiment needs exactly one of experiment_name and experiment_id",
            "pass experiment_name='...'",
        )
    name = experiment_name or experiments.name_of(str(experiment_id))
    found = experiments.get_experiment_by_name(name)
    if found is None:
        experiments.create_experiment(name)
        found = experiments.get_experiment_by_name(name)
        assert found is not None
    gitruns.set_experiment(None if name == DEFAULT_EXPERIMENT_NAME else name)
    return found


# -- where runs are kept ---------------------------------------------------------------------
_tracking_uri: list[str] = []


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Accepted so that code setting it runs; runs stay in the git repository (a warning
    says so once)."""
    if not _tracking_uri:
        warnings.warn(
            f"gitruns.mlflow records runs in the git repository, not at the tracking URI "
            f"{str(uri)!r}; share them with git push (docs/sharing.md)",
            stacklevel=2,
        )
    _tracking_uri[:] = [str(uri)]


def get_tracking_uri() -> str:
    """What ``set_tracking_uri`` was given, else ``MLFLOW_TRACKING_URI``, else
    ``gitruns:`` and the repository's path."""
    if _tracking_uri:
        return _tracking_uri[0]
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    from gitruns.recording.repository import open_store

    store = open_store()
    return f"gitruns:{store.workdir or store.git_dir}"


def is_tracking_uri_set() -> bool:
    return bool(_tracking_uri) or bool(os.environ.get("MLFLOW_TRACKING_URI"))


# -- reading runs ----------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    import gitruns

    return to_mlflow_run(gitruns.get_run(run_id))


def delete_run(run_id: str) -> None:
    """Move the run to gitruns' trash (``gitruns restore`` brings it back)."""
    from gitruns.query.resolve import find_run_id
    from gitruns.recording.repository import open_store
    from gitruns.runs.trash import delete_run as trash_run

    store = open_store()
    trash_run(store, find_run_id(store, run_id))


def autolog(*, disable: bool = False, **mlflow_options: Any) -> None:
    """``mlflow.autolog()``: ``gitruns.autolog()``, which wires every installed framework
    (Lightning, Transformers, Keras, XGBoost, LightGBM, Optuna). MLflow's other options
    (``log_models``, ``log_datasets``, ``silent`` ...) are accepted and have no effect:
    the integrations log what docs/integrations.md lists."""
    from gitruns.integrations.autolog import autolog as wire_frameworks

    wire_frameworks(disable=disable)
