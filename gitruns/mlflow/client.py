"""``MlflowClient``: the same operations addressed by run id. Runs it creates are not the
active run (as in MLflow); they end with ``set_terminated``, or FINISHED when the program
exits."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.mlflow import coerce, experiments, fluent, owned
from gitruns.mlflow.entities import (
    DEFAULT_EXPERIMENT_NAME,
    Experiment,
    FileInfo,
    Metric,
    PagedList,
    Run,
    ViewType,
)
from gitruns.mlflow.exceptions import MlflowException, unsupported

if TYPE_CHECKING:
    from gitruns.recording.active import ActiveRun

_exit_hook: list[bool] = []


class MlflowClient:
    """MLflow's client over the git repository of the current directory."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        if tracking_uri is not None:
            fluent.set_tracking_uri(tracking_uri)

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        from gitruns.recording import provenance
        from gitruns.recording.repository import open_store
        from gitruns.recording.start import create_run

        name = experiments.name_of(str(experiment_id))
        plain = {str(k): coerce.tag_value(v) for k, v in (tags or {}).items()}
        run_name = run_name or plain.pop("mlflow.runName", None)
        parent = plain.pop("mlflow.parentRunId", None)
        note = plain.pop("mlflow.note.content", None)
        store = open_store()
        experiment = None if name == DEFAULT_EXPERIMENT_NAME else name
        untracked = provenance.entry_scripts()
        run = create_run(run_name, [], store, include_untracked=untracked, experiment=experiment)
        provenance.capture(run)
        if parent:
            from gitruns.query.resolve import find_run_id

            run.add_parent(find_run_id(store, parent))
        run.set_tags(plain)
        if note:
            run.note(note)
        owned.add(run)
        _end_at_exit()
        return self.get_run(run.id)

    def get_run(self, run_id: str) -> Run:
        return fluent.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str | None = None, end_time: int | None = None
    ) -> None:
        run = self._owned(run_id)
        try:
            run.end(status or "FINISHED", ended_at=end_time / 1000 if end_time else None)
        finally:
            owned.ended(run)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        if name is not None:
            self.set_tag(run_id, "mlflow.runName", name)
        if status is not None and status != "RUNNING":
            self.set_terminated(run_id, status)

    def delete_run(self, run_id: str) -> None:
        fluent.delete_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        from gitruns.mlflow.search import find_runs

        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        page = PagedList(
            find_runs(experiment_ids, filter_string, run_view_type, max_results, order_by)
        )
        return page

    # -- logging -----------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: Any = None,
        synchronous: bool | None = None,
        **_ignored: Any,
    ) -> None:
        stamp = int(timestamp) if timestamp is not None else None
        number = coerce.metric_value(key, value)
        self._owned(run_id).log_metric(key, number, coerce.metric_step(key, step), stamp)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        self._owned(run_id).log_param(key, coerce.param_value(value))
        return value

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Any] = (),
        tags: Iterable[Any] = (),
        synchronous: bool | None = None,
    ) -> None:
        for metric in metrics:
            self.log_metric(run_id, metric.key, metric.value, metric.timestamp, metric.step)
        for param in params:
            self.log_param(run_id, param.key, param.value)
        for tag in tags:
            self.set_tag(run_id, tag.key, tag.value)

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        """On a run being recorded, a tag; on a recorded run, an annotation commit (as
        ``gitruns tag``): the run's name and note go to their own fields."""
        import gitruns

        run = owned.get(run_id) or fluent._active_if(run_id)
        if run is not None:
            fluent.apply_tag(run, key, value)
        elif key == "mlflow.runName":
            gitruns.rename_run(run_id, str(value))
        elif key == "mlflow.note.content":
            gitruns.add_run_note(run_id, str(value))
        else:
            gitruns.set_run_tags(run_id, {key: coerce.tag_value(value)})

    def delete_tag(self, run_id: str, key: str) -> None:
        import gitruns

        run = owned.get(run_id) or fluent._active_if(run_id)
        if run is not None:
            run.delete_tag(key)
        else:
            gitruns.delete_run_tags(run_id, [key])

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        import gitruns

        run = gitruns.get_run(run_id)
        return [Metric(key, value, stamp, step) for step, stamp, value in run.metric_rows(key)]

    # -- artifacts ---------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        fluent.log_artifact(local_path, artifact_path, run_id=self._owned(run_id).id)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        fluent.log_artifacts(local_dir, artifact_path, run_id=self._owned(run_id).id)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        fluent.log_dict(dictionary, artifact_file, run_id=self._owned(run_id).id)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        fluent.log_text(text, artifact_file, run_id=self._owned(run_id).id)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        fluent.log_table(data, artifact_file, run_id=self._owned(run_id).id)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str, **kwargs: Any) -> None:
        from gitruns.mlflow import artifact_files

        save = kwargs.get("save_kwargs") or {}
        artifact_files.log_figure(self._owned(run_id), figure, artifact_file, save)

    def log_image(
        self, run_id: str, image: Any, artifact_file: str | None = None, **kw: Any
    ) -> None:
        from gitruns.mlflow import artifact_files

        run = self._owned(run_id)
        artifact_files.log_image(run, image, artifact_file, kw.get("key"), kw.get("step"))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` (the top when None)."""
        import gitruns

        prefix = (path or "").strip("/")
        below = f"{prefix}/" if prefix else ""
        entries: dict[str, FileInfo] = {}
        for pointer in gitruns.get_run(run_id).artifacts:
            name = str(pointer["path"])
            if not name.startswith(below):
                continue
            first, _, rest = name[len(below) :].partition("/")
            full = below + first
            entries[full] = (
                FileInfo(full, True, None) if rest else FileInfo(full, False, pointer.get("size"))
            )
        return [entries[k] for k in sorted(entries)]

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy an artifact (a file, or every file under a folder) out of gitruns' store,
        downloading what is not here; returns the local path, as MLflow does."""
        import gitruns

        run = gitruns.get_run(run_id)
        wanted = path.strip("/")
        chosen = [
            p
            for p in run.artifacts
            if not wanted or p["path"] == wanted or str(p["path"]).startswith(wanted + "/")
        ]
        if not chosen:
            raise MlflowException(
                f"run {run_id} has no artifact '{path}'",
                "list them with MlflowClient().list_artifacts(run_id)",
            )
        target = Path(dst_path or tempfile.mkdtemp(prefix="gitruns-artifacts-"))
        for pointer in chosen:
            # downloaded through Git LFS or the run's object store when it is not here
            source = gitruns.get_artifact(run, str(pointer["path"]))
            out = target / str(pointer["path"])
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out)
        return str(target / wanted) if wanted else str(target)

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        return experiments.create_experiment(name, artifact_location, dict(tags or {}))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return experiments.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return experiments.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        found = experiments.search_experiments(view_type, max_results, filter_string, order_by)
        return PagedList(found)

    def _owned(self, run_id: str) -> ActiveRun:
        return fluent._target(run_id)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise unsupported(
            f"MlflowClient.{name}",
            "the model registry, logged models, traces and serving have no gitruns "
            "counterpart: keep model files as artifacts (log_artifact) and name the run",
        )


def _end_at_exit() -> None:
    """Client runs the program leaves open end FINISHED at exit (not CRASHED later)."""
    if _exit_hook:
        return
    _exit_hook.append(True)

    def end_all() -> None:
        for run in owned.running():
            with contextlib.suppress(Exception):  # the next gitruns call recovers it
                run.end("FINISHED")

    atexit.register(end_all)
