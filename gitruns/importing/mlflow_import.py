"""``gitruns import mlflow``: an MLflow store's runs become gitruns runs.

Each MLflow run becomes one run commit on ``refs/runs/<id>``, written whole (one kept pack,
then a compare-and-swap ref creation: see storage.py), so an import that fails or is killed
leaves either the whole run or nothing. The id is derived from the MLflow run: a UUIDv7
whose time is the MLflow start time and whose other bits are a hash of the MLflow run id.
Importing the same store again therefore finds every run it made by its ref alone, two
imports running at once cannot both create one, and ids still sort by when runs started.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitruns.errors import GitrunsError, InvalidInputError, InvalidRunError
from gitruns.format import layout, schema, yamlio
from gitruns.format.budget import RunBudget, check_step, timestamp_ms
from gitruns.format.validation import (
    check_metric_key,
    check_name_key,
    check_tag_value,
    check_text,
    to_param_value,
)
from gitruns.importing.mlflow_store import (
    MetricPoints,
    MlflowExperiment,
    MlflowRun,
    MlflowStore,
    open_mlflow_store,
)
from gitruns.recording.artifacts import artifact_store
from gitruns.recording.experiment import check_experiment
from gitruns.recording.finalize import pointer_files
from gitruns.recording.journal import CSV_HEADER, MetricSummary
from gitruns.recording.names import random_name
from gitruns.storage import FileContent, Store

RUN_ID_TAG = "mlflow.run_id"  # the MLflow run an imported run came from
# System tags that become fields of the run instead of tags.
NAME_TAG, USER_TAG, NOTE_TAG = "mlflow.runName", "mlflow.user", "mlflow.note.content"
PARENT_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG, GIT_BRANCH_TAG = "mlflow.source.git.commit", "mlflow.source.git.branch"
GIT_REPO_TAG = "mlflow.source.git.repoURL"
SOURCE_TAG = "mlflow.source.name"  # the script or notebook that ran
# MLflow's model-registry bookkeeping: it means nothing here, and it outgrows tag values.
DROPPED_TAGS = {"mlflow.log-model.history"}
FINAL_STATUSES = {"FINISHED", "FAILED", "KILLED"}
SPILL_BYTES = 4 << 20  # a metric CSV longer than this is written to a file, not kept in memory
_GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_URL_USER = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)

IMPORTED, WOULD_IMPORT, SKIPPED, CHANGED, FAILED = (
    "imported",
    "would import",
    "skipped",
    "changed",
    "failed",
)


@dataclass
class ImportedRun:
    """What became of one MLflow run."""

    mlflow_run_id: str
    experiment: str
    name: str | None
    outcome: str  # IMPORTED, WOULD_IMPORT, SKIPPED, CHANGED or FAILED
    run_id: str | None = None  # the gitruns run (made now, or earlier)
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_run_id": self.mlflow_run_id,
            "experiment": self.experiment,
            "name": self.name,
            "outcome": self.outcome,
            "run_id": self.run_id,
            "reason": self.reason,
            "warnings": self.warnings,
        }


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    runs: list[ImportedRun] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        outcomes = (WOULD_IMPORT if self.dry_run else IMPORTED, SKIPPED, CHANGED, FAILED)
        return {o: sum(r.outcome == o for r in self.runs) for o in outcomes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "runs": [r.to_dict() for r in self.runs],
        }


def import_mlflow(
    store: Store,
    location: str,
    *,
    experiments: Sequence[str] = (),
    dry_run: bool = False,
    progress: Callable[[ImportedRun], None] | None = None,
) -> ImportReport:
    """Import every run of the MLflow store at ``location`` (of ``experiments``, names or
    ids, when given); runs imported before are skipped. Raises for a store that cannot be
    read at all; a run that cannot be imported is a FAILED entry of the report."""
    if not dry_run:
        store.require_writable()
    source = open_mlflow_store(location)
    report = ImportReport(source.description, dry_run)
    runs: list[MlflowRun] = []
    for experiment in _selected(source, experiments):
        for mlflow_id in source.run_ids(experiment):
            try:
                runs.append(source.read_run(experiment, mlflow_id))
            except GitrunsError as exc:
                entry = ImportedRun(mlflow_id, experiment.name, None, FAILED, reason=str(exc))
                _add(report, entry, progress)
    ids = {run.run_id: derived_run_id(run) for run in runs}
    known = KnownRuns.of(store)
    with _spill_folder(store, dry_run) as spill:
        for run in parents_first(runs):
            entry = _import_one(store, source, run, ids, known, dry_run, spill)
            _add(report, entry, progress)
    return report


@contextmanager
def _spill_folder(store: Store, dry_run: bool) -> Iterator[Path]:
    """Where long metric series are written while a run is imported: beside the
    repository's objects (a dry run writes nothing there, so it uses the system's)."""
    parent = None
    if not dry_run:
        parent = store.gitruns_dir / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-", dir=parent) as folder:
        yield Path(folder)


@dataclass
class KnownRuns:
    """The runs the repository holds, listed once (each listing reads every ref)."""

    local: dict[str, str]  # id -> commit
    trashed: set[str]
    fetched: dict[str, str]  # id -> the remote it was fetched from

    @classmethod
    def of(cls, store: Store) -> KnownRuns:
        local, remote, _odd = store.all_run_refs()
        trashed = {
            name[len(layout.TRASH_PREFIX) :] for name in store.refs_under(layout.TRASH_PREFIX)
        }
        fetched = {run_id: name for name, refs in remote.items() for run_id in refs}
        return cls(local, trashed, fetched)


def _add(
    report: ImportReport, entry: ImportedRun, progress: Callable[[ImportedRun], None] | None
) -> None:
    report.runs.append(entry)
    if progress is not None:
        progress(entry)


def _selected(source: MlflowStore, wanted: Sequence[str]) -> list[MlflowExperiment]:
    """The experiments named (by name or id), else every experiment not deleted."""
    everything = source.experiments()
    if not wanted:
        return [e for e in everything if not e.deleted]
    chosen: list[MlflowExperiment] = []
    for name in wanted:
        match = [e for e in everything if name in (e.name, e.id)]
        if not match:
            known = ", ".join(sorted(e.name for e in everything)) or "none"
            raise InvalidInputError(
                f"{source.description} has no experiment '{name}'", f"its experiments are: {known}"
            )
        chosen.extend(e for e in match if e not in chosen)
    return chosen


def derived_run_id(run: MlflowRun) -> str:
    """The gitruns id of an MLflow run: UUIDv7 at its start time, the rest from its id."""
    ms = run.start_ms if run.start_ms is not None and 0 <= run.start_ms < 1 << 48 else 0
    digest = int.from_bytes(hashlib.sha256(f"mlflow:{run.run_id}".encode()).digest()[:10], "big")
    seq, rand = digest >> 68, digest & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parents_first(runs: list[MlflowRun]) -> list[MlflowRun]:
    """Runs by start time, each parent before its children (a cycle is broken anywhere)."""
    by_id = {run.run_id: run for run in runs}
    ordered: list[MlflowRun] = []
    placed: set[str] = set()
    for run in sorted(runs, key=lambda r: (r.start_ms or 0, r.run_id)):
        chain = []
        current: MlflowRun | None = run
        while current is not None and current.run_id not in placed:
            chain.append(current)
            placed.add(current.run_id)
            current = by_id.get(current.tags.get(PARENT_TAG, ""))
        ordered.extend(reversed(chain))
    return ordered


def _import_one(
    store: Store,
    source: MlflowStore,
    run: MlflowRun,
    ids: dict[str, str],
    known: KnownRuns,
    dry_run: bool,
    spill: Path,
) -> ImportedRun:
    run_id = ids[run.run_id]
    entry = ImportedRun(run.run_id, run.experiment.name, _name(run), FAILED, run_id)
    skip = _reason_to_skip(store, run, run_id, known)
    if skip is not None:
        entry.outcome, entry.reason, entry.run_id = skip
        return entry
    try:
        written = _write_run(store, source, run, run_id, ids, known, entry.warnings, dry_run, spill)
    except (GitrunsError, OSError) as exc:
        entry.run_id, entry.reason = None, _failure(exc)
        return entry
    finally:
        for leftover in spill.iterdir():
            leftover.unlink()
    if dry_run:
        entry.outcome = WOULD_IMPORT
    elif written:
        entry.outcome = IMPORTED
    else:
        entry.outcome, entry.reason = SKIPPED, "imported by another process meanwhile"
    return entry


def _failure(exc: BaseException) -> str:
    if isinstance(exc, GitrunsError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _reason_to_skip(
    store: Store, run: MlflowRun, run_id: str, known: KnownRuns
) -> tuple[str, str, str | None] | None:
    """(outcome, why, the gitruns run it is) for a run not to import now; None to import."""
    existing = known.local.get(run_id)
    if existing is not None:
        changed = _changes(store, run_id, existing, run)
        if changed:
            why = f"changed in MLflow since it was imported ({changed}); kept as imported"
            return CHANGED, why, run_id
        return SKIPPED, "imported before", run_id
    if run_id in known.trashed:
        why = "imported before and deleted since ('gitruns restore' brings it back)"
        return SKIPPED, why, run_id
    if run_id in known.fetched:
        why = f"imported before and fetched from {known.fetched[run_id]} ('gitruns pull' adopts it)"
        return SKIPPED, why, run_id
    if run.deleted:
        return SKIPPED, "deleted in MLflow", None
    if run.status not in FINAL_STATUSES:
        return SKIPPED, f"{run.status} in MLflow: import it once it has ended", None
    return None


def _changes(store: Store, run_id: str, commit: str, run: MlflowRun) -> str:
    """What of the MLflow run differs from the run imported from it ('' when nothing)."""
    from gitruns.runs.model import load_run

    try:
        imported = load_run(store, run_id, commit)
    except GitrunsError as exc:
        return f"the imported run cannot be read: {exc.message}"
    differs = []
    if imported.status != run.status:
        differs.append(f"status {imported.status} -> {run.status}")
    if run.end_ms is not None and imported.end_time != layout.iso_time(run.end_ms / 1000):
        differs.append("end time")
    if imported.params != run.params:
        differs.append("params")
    return ", ".join(differs)


def _name(run: MlflowRun) -> str | None:
    return run.tags.get(NAME_TAG) or run.name


def _write_run(
    store: Store,
    source: MlflowStore,
    run: MlflowRun,
    run_id: str,
    ids: dict[str, str],
    known: KnownRuns,
    warnings: list[str],
    dry_run: bool,
    spill: Path,
) -> bool:
    """Check and write one run; False when its ref appeared meanwhile."""
    budget = RunBudget()
    document = _document(run, run_id, budget)
    parent_commits = _link_parent(run, ids, known, document, warnings, dry_run)
    params = {}
    for key, value in sorted(run.params.items()):
        params[check_name_key(key, "param key")] = to_param_value(value, key)
        budget.param(key, params[key])
    files: dict[str, FileContent] = {}
    summaries: dict[str, Any] = {}
    for key, points in source.read_metrics(run):
        content, summary = metric_file(key, points, budget, spill)
        files[layout.metric_path(key)] = content
        summaries[key] = summary.to_dict()
    artifacts: list[dict[str, Any]] = []
    folder, why_not = source.artifact_dir(run)
    if why_not:
        warnings.append(why_not)
    for name, doc in (("run", document), ("params", params), ("summary", summaries)):
        schema.validate(name, doc, f"run {run_id} {name}")
    if dry_run:
        return True
    if folder is not None:
        artifacts = _store_artifacts(store, folder)
    schema.validate("artifacts", artifacts, f"run {run_id} artifacts")
    files[layout.RUN_FILE] = yamlio.dump(document)
    files[layout.PARAMS_FILE] = yamlio.dump(params)
    files[layout.SUMMARY_FILE] = yamlio.dump(summaries)
    files[layout.ARTIFACTS_FILE] = yamlio.dump(artifacts)
    files.update(pointer_files(artifacts))  # git-lfs pushes the content with the run
    code = [document["git"]["commit"]] if document["git"]["commit"] else []
    message = (
        f"run {document['name']} ({run_id}): {document['status']}\n\n"
        f"Imported from MLflow run {run.run_id} (experiment {run.experiment.name}).\n"
    )
    when = layout.parse_time(document["end_time"])
    commit = store.create_run_commit(files, code + parent_commits, message, when)
    if not store.create_ref(run_id, commit):
        return False
    known.local[run_id] = commit
    return True


def _document(run: MlflowRun, run_id: str, budget: RunBudget) -> dict[str, Any]:
    """run.yaml of the imported run: MLflow's times, user, status and tags."""
    if run.start_ms is None:
        raise InvalidRunError(f"MLflow run {run.run_id} has no start time", "")
    start = timestamp_ms(run.start_ms, "start_time") / 1000
    end = max(timestamp_ms(run.end_ms, "end_time") / 1000 if run.end_ms else start, start)
    user = run.tags.get(USER_TAG) or run.user or "unknown"
    name = check_name_key(_name(run) or random_name(run_id), "run name")
    tags: dict[str, str] = {}
    for key, value in sorted(run.tags.items()):
        if key in (NAME_TAG, USER_TAG, NOTE_TAG, PARENT_TAG) or key in DROPPED_TAGS:
            continue
        tags[check_name_key(key, "tag key")] = check_tag_value(value, key)
        budget.text(f"tag '{key}'", key, value)
    tags[RUN_ID_TAG] = run.run_id
    notes = []
    if run.tags.get(NOTE_TAG):
        text = check_text(run.tags[NOTE_TAG], "note")
        budget.text("the note", "text", text)
        notes.append({"text": text, "author": user, "time": layout.iso_time(start)})
    commit = run.tags.get(GIT_COMMIT_TAG, "")
    remote = run.tags.get(GIT_REPO_TAG)
    return {
        "schema_version": layout.SCHEMA_VERSION,
        "id": run_id,
        "name": name,
        "status": run.status,
        "start_time": layout.iso_time(start),
        "end_time": layout.iso_time(end),
        "duration_s": round(end - start, 3),
        "user": {"name": user, "email": "", "os_user": user},
        "host": "",
        "git": {
            "commit": commit if _GIT_SHA.match(commit) else None,
            "branch": run.tags.get(GIT_BRANCH_TAG),
            "remote_url": _URL_USER.sub(r"\1", remote) if remote else None,
            "dirty": False,
        },
        "tags": tags,
        "notes": notes,
        "parents": [],
        "experiment": check_experiment(run.experiment.name),
        # what `record` calls the entry point; the rest of `command` MLflow does not know
        "command": {"entry_point": run.tags[SOURCE_TAG]} if run.tags.get(SOURCE_TAG) else None,
    }


def _link_parent(
    run: MlflowRun,
    ids: dict[str, str],
    known: KnownRuns,
    document: dict[str, Any],
    warnings: list[str],
    dry_run: bool,
) -> list[str]:
    """The parent run's id in ``document``, and its commit, when it is in the repository
    (imported just before, parents coming first); else MLflow's tag stays, with a warning."""
    parent = run.tags.get(PARENT_TAG)
    if not parent:
        return []
    parent_id = ids.get(parent)
    commit = known.local.get(parent_id) if parent_id else None
    if parent_id and (commit or dry_run):
        document["parents"] = [parent_id]
        return [commit] if commit else []
    document["tags"][PARENT_TAG] = parent
    warnings.append(f"parent MLflow run {parent} is not in the repository: kept as a tag")
    return []


def metric_file(
    key: str, points: MetricPoints, budget: RunBudget, spill: Path
) -> tuple[FileContent, MetricSummary]:
    """A metric's CSV (``step,timestamp,value``, in MLflow's order) and its summary. A long
    series goes to a file in the ``spill`` folder as it is read: memory stays flat."""
    check_metric_key(key)
    budget.metric_key(key)
    summary = MetricSummary()
    lines = [CSV_HEADER]
    size = 0
    spilled: Path | None = None
    for step, stamp, value in points:
        if step < 0:
            raise InvalidInputError(
                f"metric '{key}' has step {step}", "gitruns steps are >= 0: the run is not imported"
            )
        check_step(step, key)
        timestamp_ms(stamp, key)
        line = f"{step},{stamp},{value!r}\n".encode("ascii")
        lines.append(line)
        size += len(line)
        summary.add(step, stamp, value)
        if size > SPILL_BYTES:
            spilled = _append(spilled, spill, lines)
            lines, size = [], 0
    if spilled is None:
        return b"".join(lines), summary
    return _append(spilled, spill, lines), summary


def _append(path: Path | None, folder: Path, lines: list[bytes]) -> Path:
    if path is None:
        handle, name = tempfile.mkstemp(suffix=".csv", dir=folder)
        os.close(handle)
        path = Path(name)
    with path.open("ab") as out:
        out.write(b"".join(lines))
    return path


def _store_artifacts(store: Store, folder: Path) -> list[dict[str, Any]]:
    """Every file under the run's artifact folder, by its path there, with its mtime."""
    artifacts = artifact_store(store)
    pointers = []
    for entry in sorted(folder.iterdir()):
        pointers.extend(artifacts.log(entry, None, at_mtime=True))
    return [pointer.to_dict() for pointer in sorted(pointers, key=lambda p: p.path)]
