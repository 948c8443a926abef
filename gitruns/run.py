"""``ActiveRun``: a run in progress, written to its staging folder as it goes."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from gitruns import layout
from gitruns.artifacts import ArtifactStore, hash_file
from gitruns.errors import InvalidInputError, ParamConflictError
from gitruns.finalize import finalize
from gitruns.journal import JournalWriter
from gitruns.locks import LivenessLock
from gitruns.storage import Store
from gitruns.validation import (
    check_name_key,
    check_tag_value,
    check_text,
    same_param_value,
    to_param_value,
)


class ActiveRun:
    """A run being recorded. Use it as a context manager, or call ``end()``.

    The same object serves a process that joined a run owned by another process (a script
    under ``gitruns record``): it writes its own journal, and the owner finalises the run.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        name: str,
        run_dir: Path,
        owner_lock: LivenessLock | None,
        artifact_store: ArtifactStore,
        author: str,
    ) -> None:
        self.id = run_id
        self.name = name
        self.status = "RUNNING"
        self.store = store
        self.run_dir = run_dir
        self._owner_lock = owner_lock
        self._artifacts = artifact_store
        self._author = author
        self._writer = JournalWriter(run_dir, owner=owner_lock is not None)
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._notes: list[str] = []
        self._artifact_paths: list[str] = []
        self._end_lock = threading.Lock()
        self.commit: str | None = None

    @property
    def is_owner(self) -> bool:
        """False for a process that joined a run another process owns."""
        return self._owner_lock is not None

    # -- metrics -----------------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one point of metric ``key``. ``step`` defaults to the key's last step + 1."""
        self._writer.log_metric(key, value, step, timestamp)

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: float | None = None
    ) -> None:
        for key, value in metrics.items():
            self._writer.log_metric(key, value, step, timestamp)

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Summary (last, min, max, count, last_step) of each metric this process logged."""
        return {k: s.to_dict() for k, s in sorted(self._writer.summaries().items())}

    # -- params, tags, notes -------------------------------------------------------------------
    def log_param(self, key: str, value: Any, *, source: str = "api") -> None:
        """Record a parameter; logging it again with a different value is an error."""
        check_name_key(key, "param key")
        plain = to_param_value(value, key)
        if key in self._params:
            if not same_param_value(self._params[key], plain):
                old = self._params[key]
                raise ParamConflictError(
                    f"param '{key}' is already {old!r}; cannot change it to {plain!r}",
                    "params are fixed once logged: start a new run, or log a metric or tag instead",
                )
            return
        self._writer.budget.param(key, plain)
        self._writer.append_event("param", key=key, value=plain, source=source)
        self._params[key] = plain

    def log_params(self, params: Mapping[str, Any], *, source: str = "api") -> None:
        for key, value in params.items():
            self.log_param(key, value, source=source)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def set_tag(self, key: str, value: Any) -> None:
        check_name_key(key, "tag key")
        text = check_tag_value(value, key)
        self._writer.budget.text(f"tag '{key}'", key, text)
        self._writer.append_event("tag", key=key, value=text)
        self._tags[key] = text

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.set_tag(key, value)

    def delete_tag(self, key: str) -> None:
        self._tags.pop(key, None)
        self._writer.append_event("untag", key=key)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    def note(self, text: str) -> None:
        """Append a free-text note to the run."""
        check_text(text, "a note")
        self._writer.budget.text("a note", "text", text)
        stamp = layout.iso_time(time.time())
        self._writer.append_event("note", text=text, author=self._author, time=stamp)
        self._notes.append(text)

    @property
    def notes(self) -> list[str]:
        return list(self._notes)

    def set_name(self, name: str) -> None:
        check_name_key(name, "run name")
        self.name = name
        self._writer.append_event("name", name=name)

    # -- artifacts and lineage -----------------------------------------------------------------
    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a file (or a folder's files) into the artifact store and point to it."""
        for pointer in self._artifacts.log(Path(local_path), artifact_path):
            self._artifact_paths.append(pointer.path)
            self._writer.append_event("artifact", pointer=pointer.to_dict())

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.log_artifact(local_dir, artifact_path)

    @property
    def artifacts(self) -> list[str]:
        return list(self._artifact_paths)

    def log_input(self, path: str | Path, *, uri: str | None = None) -> None:
        """Record an input data file as lineage: its path and sha256 (content not stored)."""
        source = Path(path)
        if source.is_file():
            sha, size = hash_file(source)
            record = {"path": str(path), "sha256": sha, "size": size, "uri": uri}
        else:
            record = {"path": str(path), "sha256": None, "size": None, "uri": uri}
        self._writer.append_event("input", input=record)

    def add_parent(self, run_id: str) -> None:
        self._writer.append_event("parent", run_id=run_id)

    def set_fields(self, **fields: Any) -> None:
        """Set top-level run.yaml fields (command, environment ...) for recorders."""
        self._writer.append_event("fields", fields=fields)

    # -- ending --------------------------------------------------------------------------------
    def end(
        self,
        status: str = "FINISHED",
        *,
        exit_code: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        """End the run: FINISHED, FAILED or KILLED. The owner writes the run's commit."""
        if status not in layout.FINAL_STATUSES:
            raise InvalidInputError(
                f"status {status!r} is not one of {', '.join(layout.FINAL_STATUSES)}",
                "end the run as FINISHED, FAILED or KILLED",
            )
        with self._end_lock:
            if self.status != "RUNNING":
                return
            fields: dict[str, Any] = {"status": status, "exit_code": exit_code}
            if error is not None:
                fields["error"] = _describe(error)
            # Every point reaches disk before the end event does: a run killed after its end
            # event is finalised with that status, so it must already be complete.
            self._writer.flush()
            if self._owner_lock is not None:
                self._writer.append_event("end", **fields)
            elif error is not None:  # a joined process: its error explains the run's failure
                self._writer.append_event("fields", fields={"error": fields["error"]})
            self._writer.close()
            self.status = status
            if self._owner_lock is None:
                return
            try:
                self.commit = finalize(
                    self.store, self.run_dir, owner_summaries=self._writer.summaries()
                )
            finally:
                self._owner_lock.release()

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from gitruns import api

        try:
            if exc is None:
                self.end("FINISHED")
            elif isinstance(exc, KeyboardInterrupt):
                self.end("KILLED", error=exc)
            elif isinstance(exc, SystemExit):
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                self.end("FINISHED" if code == 0 else "FAILED", exit_code=code)
            else:
                self.end("FAILED", error=exc)
        finally:
            api.forget_run(self)

    def __repr__(self) -> str:
        return f"<ActiveRun id={self.id} name={self.name!r} status={self.status}>"


def _describe(error: BaseException) -> dict[str, str]:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__name__,
        "message": str(error)[:2000],
        "traceback": text[-8000:],
    }
