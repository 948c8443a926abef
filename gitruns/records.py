"""``Run``: a recorded run read back from its ref, validated as untrusted input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitruns import layout, schema, yamlio
from gitruns.errors import AmbiguousRunError, InvalidRunError, RunNotFoundError
from gitruns.storage import Store

MAX_META_BYTES = 4 * 1024 * 1024
# summary.yaml has about 120 bytes and 7 YAML nodes per metric key: room for the
# budget.MAX_METRIC_KEYS keys a run may log.
MAX_SUMMARY_BYTES = 64 * 1024 * 1024
MAX_SUMMARY_NODES = 2_000_000
MAX_METRIC_BYTES = 512 * 1024 * 1024


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

    @property
    def name(self) -> str:
        return str(self.document["name"])

    @property
    def status(self) -> str:
        return str(self.document["status"])

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

    def metric_history(self, key: str) -> list[MetricPoint]:
        """Every point of metric ``key`` in logged order."""
        raw = self._store.read_file(self.commit, layout.metric_path(key), MAX_METRIC_BYTES)
        if raw is None:
            raise RunNotFoundError(
                f"run {self.id} has no metric '{key}'",
                f"its metrics are: {', '.join(sorted(self.metrics)) or 'none'}",
            )
        try:
            return [MetricPoint(*row) for row in layout.parse_metric_csv(raw)]
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRunError(
                f"metrics/{key}.csv of run {self.id} is malformed ({exc})", "repair or remove it"
            ) from exc

    def file(self, path: str, max_bytes: int = MAX_META_BYTES) -> bytes | None:
        """Any file of the run's tree (``logs/stdout.txt``, ``code/uncommitted.patch`` ...)."""
        return self._store.read_file(self.commit, path, max_bytes)

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (the shape of ``gitruns show --format json``)."""
        doc = self.document
        return {
            "id": self.id,
            "commit": self.commit,
            "name": self.name,
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
            "tags": self.tags,
            "notes": self.notes,
            "metrics": self.metrics,
            "git": doc["git"],
            "artifacts": self.artifacts,
            "parents": self.parents,
            "inputs": doc.get("inputs", []),
            "command": doc.get("command"),
            "environment": doc.get("environment"),
            "schema_version": doc["schema_version"],
        }


def load_run(store: Store, run_id: str, commit: str) -> Run:
    """Read and validate a run's metadata files (not its metric series)."""
    where = f"refs/runs/{run_id}"
    document = _load_yaml(store, commit, layout.RUN_FILE, where, required=True)
    schema.validate("run", document, f"{where} run.yaml")
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
    summary = path == layout.SUMMARY_FILE
    raw = store.read_file(commit, path, MAX_SUMMARY_BYTES if summary else MAX_META_BYTES)
    if raw is None:
        if required:
            raise InvalidRunError(f"{where} has no {path}", "it is not a gitruns run")
        return None
    if summary:
        limits = {"max_bytes": MAX_SUMMARY_BYTES, "max_nodes": MAX_SUMMARY_NODES}
        return yamlio.load(raw, f"{where} {path}", **limits)
    return yamlio.load(raw, f"{where} {path}")


def resolve_run_id(store: Store, ref: str, names: dict[str, str] | None = None) -> str:
    """Turn a run reference into a run id.

    Accepted, in this order: a full id; a unique prefix of an id, or a unique suffix of at
    least 4 hex digits (``ls`` shows the last 8); a run name, meaning the newest run with
    that name. ``names`` maps run id -> name when the caller already has it (a cache).
    """
    refs = store.run_refs()
    text = ref.strip().removeprefix("refs/runs/")
    if not text:
        raise RunNotFoundError("an empty run reference", "give a run id or name")
    if text in refs:
        return text
    lowered = text.lower()
    by_id = sorted(
        i for i in refs if i.startswith(lowered) or (len(lowered) >= 4 and i.endswith(lowered))
    )
    if len(by_id) > 1:
        raise AmbiguousRunError(text, by_id)
    if by_id:
        return by_id[0]
    if names is None:
        names = {}
        for run_id, commit in refs.items():
            try:
                names[run_id] = load_run(store, run_id, commit).name
            except InvalidRunError:
                continue
    by_name = sorted(i for i, n in names.items() if n == text and i in refs)
    if by_name:
        return by_name[-1]  # ids sort by time: the newest run of that name
    raise RunNotFoundError(f"no run matches '{ref}'", "list runs with 'gitruns ls'")


def find_run_id(store: Store, ref: str) -> str:
    """``resolve_run_id`` with names looked up in the query cache, so naming a run by name
    stays fast with 10,000 runs instead of reading every run."""
    try:
        return resolve_run_id(store, ref, names={})
    except RunNotFoundError:
        pass
    from gitruns import cache

    names = {row.run_id: row.name for row in cache.sync(store).runs()}
    return resolve_run_id(store, ref, names=names)


def find_run(store: Store, ref: str) -> Run:
    """The run a user's reference names (see ``find_run_id``), read and validated."""
    run_id = find_run_id(store, ref)
    commit = store.run_commit(run_id)
    if commit is None:
        raise RunNotFoundError(f"run {run_id} was deleted just now", "list runs with 'gitruns ls'")
    return load_run(store, run_id, commit)
