"""``Run``: a recorded run read back from its ref, validated as untrusted input."""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitruns.errors import InvalidRunError, RunNotFoundError
from gitruns.format import layout, schema, yamlio
from gitruns.format.layout import MAX_META_BYTES, MAX_METRIC_BYTES
from gitruns.storage import Store

if TYPE_CHECKING:  # imported when asked for: hashlib and mimetypes, unused by a listing
    from gitruns.recording.artifacts import ArtifactFile

# summary.yaml has about 120 bytes and 7 YAML nodes per metric key: room for the
# budget.MAX_METRIC_KEYS keys a run may log.
MAX_SUMMARY_BYTES = 64 * 1024 * 1024
MAX_SUMMARY_NODES = 2_000_000


@dataclass
class MetricPoint:
    step: int
    timestamp: int  # milliseconds since the epoch
    value: float


@dataclass
class Run:
    """One recorded run, as stored on ``refs/runs/<id>``."""

    id: str
    commit: str
    document: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, dict[str, Any]]  # key -> summary (last, min, max, count, last_step)
    artifacts: list[dict[str, Any]]
    _store: Store = field(repr=False)
    origin: str = "local"  # or the remote a fetched run (refs/remote-runs/<remote>/) came from

    @property
    def live(self) -> bool:
        """True for a run still in progress (read from its staging folder)."""
        return False

    @property
    def name(self) -> str:
        return str(self.document["name"])

    @property
    def status(self) -> str:
        return str(self.document["status"])

    @property
    def experiment(self) -> str | None:
        """The experiment the run belongs to (None: none)."""
        value = self.document.get("experiment")
        return value if isinstance(value, str) else None

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.document.get("tags", {}))

    @property
    def notes(self) -> list[dict[str, Any]]:
        return list(self.document.get("notes", []))

    @property
    def git(self) -> dict[str, Any]:
        return dict(self.document["git"])

    @property
    def user(self) -> dict[str, Any]:
        return dict(self.document["user"])

    @property
    def start_time(self) -> str:
        return str(self.document["start_time"])

    @property
    def end_time(self) -> str | None:
        return self.document.get("end_time")

    @property
    def duration(self) -> float | None:
        return self.document.get("duration_s")

    @property
    def parents(self) -> list[str]:
        return list(self.document.get("parents", []))

    @property
    def artifact_files(self) -> list[ArtifactFile]:
        """``artifacts`` with availability: each one's path, sha256, size and ``here`` /
        ``local_path`` (its object in the local store, None when it must be downloaded with
        ``gitruns.get_artifact`` or ``gitruns artifacts get``)."""
        from gitruns.recording.artifacts import artifact_files, artifact_store

        return artifact_files(artifact_store(self._store), self.artifacts)

    def metric_history(self, key: str) -> list[MetricPoint]:
        """Every point of metric ``key`` in logged order."""
        return [MetricPoint(*row) for row in self.metric_rows(key)]

    def metric_rows(self, key: str) -> Iterator[tuple[int, int, float]]:
        """``(step, timestamp in ms, value)`` of each point of metric ``key``, in logged
        order, read as they come: memory stays flat for a series of any length. A missing
        key raises at once; a malformed line when the reading reaches it."""
        return self._rows(key, self.metric_chunks(key))

    def _rows(self, key: str, chunks: Iterator[bytes]) -> Iterator[tuple[int, int, float]]:
        try:
            yield from layout.iter_metric_rows(chunks)
        except ValueError as exc:
            raise InvalidRunError(
                f"metrics/{key}.csv of run {self.id} is malformed ({exc})", "repair or remove it"
            ) from exc

    def metric_chunks(self, key: str) -> Iterator[bytes]:
        """The bytes of ``metrics/<key>.csv`` in chunks (see ``Store.stream_file``)."""
        chunks = self._store.stream_file(self.commit, layout.metric_path(key), MAX_METRIC_BYTES)
        if chunks is None:
            raise RunNotFoundError(
                f"run {self.id} has no metric '{key}'",
                f"its metrics are: {', '.join(sorted(self.metrics)) or 'none'}",
            )
        return chunks

    def file(self, path: str, max_bytes: int = MAX_META_BYTES) -> bytes | None:
        """Any file of the run's tree (``logs/stdout.txt``, ``code/uncommitted.patch`` ...)."""
        return self._store.read_file(self.commit, path, max_bytes)

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (the shape of ``gitruns show --format json``)."""
        doc = self.document
        return {
            "id": self.id,
            "commit": self.commit or None,  # None: a run in progress has no commit yet
            "origin": self.origin,
            "name": self.name,
            "experiment": self.experiment,
            "status": self.status,
            "start_time": doc["start_time"],
            "end_time": doc.get("end_time"),
            "duration_s": doc.get("duration_s"),
            "exit_code": doc.get("exit_code"),
            "error": doc.get("error"),
            "user": doc["user"],
            "host": doc.get("host"),
            "params": self.params,
            "param_sources": doc.get("param_sources", {}),
            "metric_sources": doc.get("metric_sources", {}),
            "tags": self.tags,
            "notes": self.notes,
            "metrics": self.metrics,
            "git": doc["git"],
            "artifacts": self.artifacts,
            "parents": self.parents,
            "inputs": doc.get("inputs", []),
            "command": doc.get("command"),
            "environment": doc.get("environment"),
            "hydra": doc.get("hydra"),
            "resources": doc.get("resources"),
            "schema_version": doc["schema_version"],
        }


def read_run_yaml(store: Store, commit: str) -> dict[str, Any] | None:
    """``run.yaml`` of a commit as safe, bounded YAML, not validated: None when the commit
    has none or it holds no mapping. For labels of commits that may not be runs at all."""
    document = _load_yaml(store, commit, layout.RUN_FILE, f"run.yaml of {commit[:12]}")
    return document if isinstance(document, dict) else None


def read_run_document(store: Store, run_id: str, commit: str, where: str = "") -> dict[str, Any]:
    """``run.yaml`` of one commit of a run, validated against the run schema. The one reader
    of run.yaml."""
    where = where or f"run {run_id} at {commit[:12]}"
    document = _load_yaml(store, commit, layout.RUN_FILE, where, required=True)
    schema.validate("run", document, f"{where} run.yaml")
    assert isinstance(document, dict)
    return document


def load_run(store: Store, run_id: str, commit: str) -> Run:
    """Read and validate a run's metadata files (not its metric series)."""
    where = f"refs/runs/{run_id}"
    document = read_run_document(store, run_id, commit, where)
    if document["id"] != run_id:
        raise InvalidRunError(f"{where} holds run id {document['id']}", "the ref was renamed")
    if document["schema_version"] > layout.SCHEMA_VERSION:
        raise InvalidRunError(
            f"{where} has schema_version {document['schema_version']}, newer than this gitruns",
            "upgrade gitruns",
        )
    params = _load_yaml(store, commit, layout.PARAMS_FILE, where) or {}
    summary = _load_yaml(store, commit, layout.SUMMARY_FILE, where) or {}
    artifacts = _load_yaml(store, commit, layout.ARTIFACTS_FILE, where) or []
    schema.validate("params", params, f"{where} params.yaml")
    schema.validate("summary", summary, f"{where} summary.yaml")
    schema.validate("artifacts", artifacts, f"{where} artifacts.yaml")
    return Run(run_id, commit, document, params, summary, artifacts, store)


def _load_yaml(store: Store, commit: str, path: str, where: str, required: bool = False) -> Any:
    blob = store.regular_blob(commit, path)
    if blob is None:
        if required:
            raise InvalidRunError(f"{where} has no {path}", "it is not a gitruns run")
        return None
    known = _PARSED.get((path, blob))
    if known is not None:  # its size was checked (for this path's limit) when it was read
        return marshal.loads(known)
    summary = path == layout.SUMMARY_FILE
    limit = MAX_SUMMARY_BYTES if summary else MAX_META_BYTES
    raw = store.sized_blob_data(commit, path, blob, limit)
    if summary:
        limits = {"max_bytes": MAX_SUMMARY_BYTES, "max_nodes": MAX_SUMMARY_NODES}
        value = yamlio.load(raw, f"{where} {path}", **limits)
    else:
        value = yamlio.load(raw, f"{where} {path}")
    if path != layout.RUN_FILE and len(raw) <= _PARSED_MAX_BYTES:
        _remember_parsed((path, blob), value)
    return value


# Small files read before, by (path, blob id), marshalled (each reading gets fresh
# containers): runs share blobs (every run without artifacts has the same
# artifacts.yaml, runs of a sweep often the same params.yaml), which are then neither
# read nor parsed again. Kept when seen a second time; emptied when full.
_PARSED: dict[tuple[str, str], bytes] = {}
_SEEN_ONCE: set[tuple[str, str]] = set()
_PARSED_MAX = 256
_PARSED_MAX_BYTES = 2_048


def _remember_parsed(key: tuple[str, str], value: Any) -> None:
    if key not in _SEEN_ONCE:
        if len(_SEEN_ONCE) >= _PARSED_MAX:
            _SEEN_ONCE.clear()
        _SEEN_ONCE.add(key)
        return
    try:
        kept = marshal.dumps(value)
    except ValueError:  # a value YAML has and marshal not (a date): read it each time
        return
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = kept
