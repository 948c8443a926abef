"""``ActiveRun``: a run in progress, written to its staging folder as it goes."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitruns.errors import InvalidInputError, ParamConflictError
from gitruns.format import layout
from gitruns.format.validation import (
    check_name_key,
    check_tag_value,
    check_text,
    same_param_value,
    to_param_value,
)
from gitruns.locks import LivenessLock
from gitruns.recording.journal import JournalWriter

if TYPE_CHECKING:  # artifacts load when used: `gitruns log-metric` never needs them
    from gitruns.recording.artifacts import ArtifactStore
    from gitruns.recording.staged_params import StagedParams
    from gitruns.runwrite import PlainRepo
    from gitruns.storage import Store


class ActiveRun:
    """A run being recorded. Use it as a context manager, or call ``end()``.

    The same object serves a process that joined a run owned by another process (a script
    under ``gitruns record``): it writes its own journal, and the owner finalises the run.
    A joined writer may leave ``store``, ``artifacts`` and ``author`` out (None): they are
    opened when first needed, so ``gitruns log-metric`` never loads git (pygit2).
    """

    def __init__(
        self,
        store: Store | None,
        run_id: str,
        name: str,
        run_dir: Path,
        owner_lock: LivenessLock | None,
        artifacts: ArtifactStore | None,
        author: str | None,
    ) -> None:
        self.id = run_id
        self.name = name
        self.status = "RUNNING"
        self._store = store
        self.run_dir = run_dir
        self._owner_lock = owner_lock
        self._artifact_store = artifacts
        self._author_line = author
        self._writer = JournalWriter(run_dir, owner=owner_lock is not None)
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._notes: list[str] = []
        self._artifact_paths: list[str] = []
        self._run_params: StagedParams | None = None  # joined writers: what others logged
        self._end_lock = threading.Lock()
        self._end_hooks: list[Callable[[], None]] = []
        self.commit: str | None = None
        self.experiment: str | None = None  # the experiment it belongs to, if any
        self._plain: PlainRepo | None = None  # finalises without pygit2 (quick_start)
        # the name and metric summaries finalising wrote (``finalize``'s ``written``)
        self.written: dict[str, Any] = {}

    @property
    def store(self) -> Store:
        """The repository (opened on first use by a joined writer that was given none)."""
        if self._store is None:
            from gitruns.storage import Store

            self._store = Store(self.run_dir)
        return self._store

    def use_store(self, store: Store) -> None:
        """Give a run started without git (``recording.quick_start``) its repository,
        opened while its command runs; before this, ``store`` would open one itself."""
        self._store = store

    def use_plain_repo(self, plain: PlainRepo) -> None:
        """Finalise through ``plain`` (no pygit2) unless the repository gets opened
        before the end (``store``) or ``plain`` is unsure (``runwrite.NeedsStore``)."""
        self._plain = plain

    @property
    def store_is_open(self) -> bool:
        return self._store is not None

    def settings_source(self) -> Store | PlainRepo:
        """Where gitruns' settings (git config) are read from: the open repository, else
        what the plain writer was given, else the repository, opened."""
        if self._store is None and self._plain is not None:
            return self._plain
        return self.store

    @property
    def _artifacts(self) -> ArtifactStore:
        if self._artifact_store is None:
            from gitruns.recording.artifacts import artifact_store

            self._artifact_store = artifact_store(self.store)
        return self._artifact_store

    @property
    def _author(self) -> str:
        if self._author_line is None:
            identity = self.store.identity()
            self._author_line = f"{identity.name} <{identity.email}>"
        return self._author_line

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

    def next_step(self, key: str) -> int:
        """The step after the last one any process logged for ``key`` in this run (0 for a
        new key); a process logging one point at a time continues the series."""
        from gitruns.recording.staging import last_logged_step

        return last_logged_step(self.run_dir, key) + 1

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Summary (last, min, max, count, last_step) of each metric this process logged."""
        return {k: s.to_dict() for k, s in sorted(self._writer.summaries().items())}

    # -- params, tags, notes -------------------------------------------------------------------
    def log_param(
        self,
        key: str,
        value: Any,
        *,
        source: str = "api",
        leaf_sources: Mapping[str, str] | None = None,
        replace: bool = False,
    ) -> None:
        """Record a parameter; logging it again with a different value is an error.

        In a process that joined a run (a script under ``gitruns record``), a value that
        ``record -p``, another process or this one already fixed counts the same way.
        ``leaf_sources`` (dotted path -> source) and ``replace`` serve ``record``, which
        merges its sources per leaf and refines what it logged before. Values under
        secret-looking keys (``password``, ``api_key``, ``db.token`` ...) are stored as
        ``[REDACTED]``, and the captured output is scrubbed of them (capture/scrub.py).
        """
        check_name_key(key, "param key")
        plain = _redacted(self._writer.dir, key, to_param_value(value, key))
        if key in self._params and not replace:
            if not same_param_value(self._params[key], plain):
                raise _conflict(key, self._params[key], plain)
            return
        self._writer.budget.param(key, plain)
        if not self.is_owner and not replace:
            self._check_run_wide(key, plain)
        fields: dict[str, Any] = {"key": key, "value": plain, "source": source}
        if leaf_sources:
            fields["sources"] = dict(leaf_sources)
        self._writer.append_event("param", **fields)
        self._params[key] = plain

    def _check_run_wide(self, key: str, plain: Any) -> None:
        """Refuse a value that contradicts what a hard source (``-p``, the API, ``gitruns
        log-param``) fixed for this run in another journal; soft ones (argv, config files,
        Hydra) are defaults that the program's own value replaces."""
        from gitruns.capture.param_merge import hard_paths, value_at
        from gitruns.recording.staged_params import StagedParams

        if self._run_params is None:
            self._run_params = StagedParams(self.run_dir)
        logged = self._run_params.refresh().get(key)
        if logged is None or logged.writer == self._writer.dir:
            return
        for path in hard_paths(key, logged.source, logged.leaf_sources):
            fixed, old = value_at(logged.value, path)
            found, new = value_at(plain, path)
            if fixed and not (found and same_param_value(old, new)):
                raise _conflict(key, logged.value, plain)

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
    def log_artifact(
        self,
        local_path: str | Path,
        artifact_path: str | None = None,
        *,
        step: int | None = None,
        at_mtime: bool = False,
    ) -> None:
        """Copy a file (or a folder's files) into the artifact store and point to it.

        The pointer records when it was logged (with ``at_mtime``, the file's modification
        time instead) and ``step``, or the step its name states (``step=500``,
        ``checkpoint-500/``), so that checkpoints read as a timeline.
        """
        pointers = self._artifacts.log(
            Path(local_path), artifact_path, step=step, at_mtime=at_mtime
        )
        for pointer in pointers:
            self._artifact_paths.append(pointer.path)
            self._writer.append_event("artifact", pointer=pointer.to_dict())

    def log_artifacts(
        self, local_dir: str | Path, artifact_path: str | None = None, *, step: int | None = None
    ) -> None:
        self.log_artifact(local_dir, artifact_path, step=step)

    @property
    def artifacts(self) -> list[str]:
        return list(self._artifact_paths)

    def log_input(self, path: str | Path, *, uri: str | None = None) -> None:
        """Record an input data file as lineage: its path and sha256 (content not stored)."""
        source = Path(path)
        if source.is_file():
            from gitruns.recording.artifacts import hash_file

            sha, size = hash_file(source)
            record = {"path": str(path), "sha256": sha, "size": size, "uri": uri}
        else:
            record = {"path": str(path), "sha256": None, "size": None, "uri": uri}
        self._writer.append_event("input", input=record)

    def add_parent(self, run_id: str) -> None:
        self._writer.append_event("parent", run_id=run_id)

    def stage_file(self, path: str, data: bytes) -> None:
        """Put a small file (``env/platform.yaml`` ...) into the run's tree, through the
        journal; written again, the last one wins."""
        from gitruns.recording.staging import inline_file_event
        from gitruns.recording.staging_files import FILE_EVENT

        self._writer.append_event(FILE_EVENT, **inline_file_event(path, data))

    def set_fields(self, **fields: Any) -> None:
        """Set top-level run.yaml fields (command, environment ...) for recorders."""
        self._writer.append_event("fields", fields=fields)

    # -- ending --------------------------------------------------------------------------------
    def add_end_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the run ends, before its last points are flushed (a sampler
        takes its last sample there). A hook that fails does not stop the run ending."""
        self._end_hooks.append(hook)

    def end(
        self,
        status: str = "FINISHED",
        *,
        exit_code: int | None = None,
        error: BaseException | None = None,
        ended_at: float | None = None,
    ) -> None:
        """End the run: FINISHED, FAILED or KILLED. The owner writes the run's commit.

        ``ended_at`` (a ``time.time()`` value) is for runs written after the fact.
        The run stops being this process's active run, so ``start_run()`` works again.
        """
        if status not in layout.FINAL_STATUSES:
            raise InvalidInputError(
                f"status {status!r} is not one of {', '.join(layout.FINAL_STATUSES)}",
                "end the run as FINISHED, FAILED or KILLED",
            )
        from gitruns.recording import stack

        try:
            self._end(status, exit_code, error, ended_at)
        finally:
            stack.forget_run(self)

    def _end(
        self,
        status: str,
        exit_code: int | None,
        error: BaseException | None,
        ended_at: float | None,
    ) -> None:
        with self._end_lock:
            if self.status != "RUNNING":
                return
            for hook in self._end_hooks:
                with contextlib.suppress(Exception):  # ending the run matters more
                    hook()
            fields: dict[str, Any] = {"status": status, "exit_code": exit_code}
            if error is not None:
                fields["error"] = _describe(error)
            if ended_at is not None:
                fields["at"] = ended_at
            # Every point reaches disk before the end event does: a run killed after its end
            # event is finalised with that status, so it must already be complete. Points
            # of keys that never reached a file (a run that ends within its first flush)
            # go into the journal, with no file of their own (journal.points_to_journal).
            self._writer.seal()
            if self._owner_lock is not None:
                self._writer.points_to_journal()
            self._writer.flush()
            if self._owner_lock is not None:
                self._writer.append_event("end", **fields)
            elif error is not None:  # a joined process: its error explains the run's failure
                self._writer.append_event("fields", fields={"error": fields["error"]})
            self._writer.close()
            self.status = status
            if self._owner_lock is None:
                return
            from gitruns.recording import spare
            from gitruns.recording.finalize import finalize  # loads git: owners only
            from gitruns.recording.staging import remove_run_dir

            lock = self._owner_lock
            kept = False

            def dispose(run_dir: Path) -> None:  # kept for this process's next run
                nonlocal kept
                kept = spare.retire(run_dir, lock)
                if not kept:
                    remove_run_dir(run_dir)

            try:
                self.commit = self._finalize(finalize, dispose)
            finally:
                if not kept:
                    lock.release()
            if self._store is not None:  # a plain finalise (runwrite) opened no repository
                from gitruns.recording.kept_store import keep

                keep(self._store)  # for this process's next run (kept_store.py)

    def _finalize(
        self, finalize: Callable[..., str | None], dispose: Callable[[Path], None]
    ) -> str | None:
        """Through the plain writer when there is one and the repository was never opened,
        else (or when it is unsure, before it wrote anything) through ``store``."""
        from gitruns.runwrite import NeedsStore

        summaries = self._writer.summaries()

        def through(repo: object) -> str | None:
            return finalize(
                repo, self.run_dir, owner_summaries=summaries, dispose=dispose, written=self.written
            )

        if self._store is None and self._plain is not None:
            with contextlib.suppress(NeedsStore):
                return through(self._plain)
        return through(self.store)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from gitruns.recording import stack

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
            stack.forget_run(self)

    def __repr__(self) -> str:
        return f"<ActiveRun id={self.id} name={self.name!r} status={self.status}>"


def _conflict(key: str, old: Any, new: Any) -> ParamConflictError:
    return ParamConflictError(
        f"param '{key}' is already {old!r}; cannot change it to {new!r}",
        "params are fixed once logged: start a new run, or log a metric or tag instead",
    )


def _redacted(folder: Path, key: str, value: Any) -> Any:
    """``value`` with its secrets redacted; the secrets are remembered for scrubbing."""
    from gitruns.capture import scrub
    from gitruns.capture.secrets import redact_param

    safe = redact_param(key, value)
    if safe != value:
        scrub.remember(folder, scrub.learn(value, safe))
    return safe


def _describe(error: BaseException) -> dict[str, str]:
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__name__,
        "message": str(error)[:2000],
        "traceback": text[-8000:],
    }
