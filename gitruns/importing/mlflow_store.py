"""Reading an MLflow tracking store without MLflow: an ``mlruns`` folder or a sqlite file.

Both layouts are MLflow's own. The file store: ``<root>/<experiment id>/meta.yaml`` and
``<root>/<experiment id>/<run id>/{meta.yaml, params/, tags/, metrics/, artifacts/}``, a
metric file holding one ``<timestamp ms> <value> <step>`` line per point, keys with ``/``
as folders, the status an integer (1 RUNNING ... 5 KILLED). The sqlite store: the tables
``experiments``, ``runs``, ``params``, ``tags`` and ``metrics`` (NaN kept as ``is_nan``).
Everything read is untrusted input: YAML through the safe, bounded loader, a corrupt run
is that run's ``InvalidRunError``, never the whole store's.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from gitruns.errors import InvalidInputError, InvalidRunError
from gitruns.format import yamlio

# mlflow.entities.RunStatus: how the file store writes a status.
_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_RUN_ID = re.compile(r"^[0-9a-zA-Z_-]{1,64}$")
_MAX_VALUE_BYTES = 1 << 20  # a param or tag file bigger than this is not MLflow's


@dataclass(frozen=True)
class MlflowExperiment:
    id: str
    name: str
    deleted: bool


@dataclass
class MlflowRun:
    """One MLflow run's info, params and tags (metrics are read separately, when written)."""

    run_id: str
    experiment: MlflowExperiment
    name: str | None
    user: str | None
    status: str
    start_ms: int | None
    end_ms: int | None
    deleted: bool
    artifact_uri: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    local_artifacts: Path | None = None  # the run's folder in a file store, for moved stores


# (step, timestamp in ms, value) of each point of one key, read as they come
MetricPoints = Iterator[tuple[int, int, float]]
# each metric key of a run and its points (read the points before the next key)
MetricSeries = Iterator[tuple[str, MetricPoints]]


class MlflowStore:
    """What the importer reads from a store; the two layouts below implement it."""

    description: str
    base: Path  # relative artifact locations are relative to it

    def experiments(self) -> list[MlflowExperiment]:
        raise NotImplementedError

    def run_ids(self, experiment: MlflowExperiment) -> list[str]:
        raise NotImplementedError

    def read_run(self, experiment: MlflowExperiment, run_id: str) -> MlflowRun:
        raise NotImplementedError

    def read_metrics(self, run: MlflowRun) -> MetricSeries:
        raise NotImplementedError

    def artifact_dir(self, run: MlflowRun) -> tuple[Path | None, str | None]:
        """The run's local artifact folder, or None and why it cannot be read here."""
        uri = run.artifact_uri or ""
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            path = Path(unquote(parsed.path)) if parsed.scheme else Path(uri)
            candidates = [path] if path.is_absolute() else [self.base / path, Path.cwd() / path]
            if run.local_artifacts is not None:
                candidates.append(run.local_artifacts)
            for candidate in candidates:
                if candidate.is_dir():
                    return candidate, None
            return None, None  # nothing was logged (MLflow creates the folder lazily)
        return None, f"artifacts at {uri} are not local: not imported"


def open_mlflow_store(location: str) -> MlflowStore:
    """The store at ``location``: a folder, a sqlite file, ``file://`` or ``sqlite:///``."""
    hint_kinds = "give an mlruns folder, a sqlite file, or sqlite:///path/to/mlflow.db"
    if location.startswith("sqlite:"):
        if not location.startswith("sqlite:///"):
            raise InvalidInputError(f"{location} is not a sqlite:/// URI", hint_kinds)
        return SqliteStore(Path(unquote(location[len("sqlite:///") :])))
    scheme = urlparse(location).scheme
    if scheme == "file":
        path = Path(unquote(urlparse(location).path))
    elif len(scheme) > 1:  # one letter is a Windows drive
        raise InvalidInputError(
            f"cannot import from {location}: gitruns reads MLflow stores on this disk only",
            f"copy the store here ({hint_kinds}), or for a tracking server, its backend"
            " database (export it to sqlite) and artifact folder",
        )
    else:
        path = Path(location)
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist", hint_kinds)
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(16) == _SQLITE_MAGIC:
                return SqliteStore(path)
        raise InvalidInputError(f"{path} is not an MLflow store (not a sqlite file)", hint_kinds)
    return FileStore(path)


class FileStore(MlflowStore):
    """An ``mlruns`` folder."""

    def __init__(self, root: Path) -> None:
        self.root = self.base = root
        self.description = str(root)
        found = [p for p in _subdirs(root) if (p / "meta.yaml").is_file()]
        if not found:
            nested = root / "mlruns"
            hint = (
                f"did you mean {nested}?"
                if nested.is_dir()
                else "give the mlruns folder MLflow wrote (it holds one folder per experiment,"
                " each with a meta.yaml)"
            )
            raise InvalidInputError(f"{root} is not an MLflow store (no experiments in it)", hint)

    def experiments(self) -> list[MlflowExperiment]:
        found = []
        for folder in sorted(_subdirs(self.root), key=lambda p: p.name):
            meta_file = folder / "meta.yaml"
            if not meta_file.is_file():
                continue
            try:
                meta = _read_meta(meta_file, str(meta_file))
            except InvalidRunError as exc:
                raise InvalidInputError(
                    exc.message, "repair it, or move that experiment's folder out of the store"
                ) from None
            experiment_id = str(meta.get("experiment_id", folder.name))
            name = meta.get("name")
            if not isinstance(name, str):
                raise InvalidInputError(
                    f"{meta_file} names no experiment", "repair the file or remove the folder"
                )
            deleted = meta.get("lifecycle_stage") == "deleted"
            found.append(MlflowExperiment(experiment_id, name, deleted))
        return found

    def run_ids(self, experiment: MlflowExperiment) -> list[str]:
        folder = self.root / experiment.id
        return sorted(
            p.name for p in _subdirs(folder) if _RUN_ID.match(p.name) and p.name != "models"
        )

    def read_run(self, experiment: MlflowExperiment, run_id: str) -> MlflowRun:
        folder = self.root / experiment.id / run_id
        meta_file = folder / "meta.yaml"
        if not meta_file.is_file():
            raise InvalidRunError(f"{folder} has no meta.yaml", "it is not a complete MLflow run")
        meta = _read_run_meta(meta_file)
        status = meta.get("status", 1)
        if status not in _STATUS_NUMBERS:
            raise InvalidRunError(f"{meta_file} has status {status!r}", "repair the file")
        run = MlflowRun(
            run_id=run_id,
            experiment=experiment,
            name=_text_or_none(meta.get("run_name")),
            user=_text_or_none(meta.get("user_id")),
            status=_STATUS_NUMBERS[status],
            start_ms=_ms(meta.get("start_time"), meta_file),
            end_ms=_ms(meta.get("end_time"), meta_file),
            deleted=meta.get("lifecycle_stage") == "deleted",
            artifact_uri=_text_or_none(meta.get("artifact_uri")),
            local_artifacts=folder / "artifacts",
        )
        run.params = dict(_read_values(folder / "params"))
        run.tags = dict(_read_values(folder / "tags"))
        return run

    def read_metrics(self, run: MlflowRun) -> MetricSeries:
        folder = self.root / run.experiment.id / run.run_id / "metrics"
        for key, path in _key_files(folder):
            yield key, _metric_lines(path)


class SqliteStore(MlflowStore):
    """MLflow's SQLAlchemy store in a sqlite file, read with the standard library."""

    def __init__(self, path: Path) -> None:
        self.base = path.parent
        self.description = f"sqlite:///{path}"
        if not path.is_file():
            raise InvalidInputError(f"{path} does not exist", "give the path of mlflow.db")
        try:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(f"{path} cannot be read as sqlite ({exc})", "") from None
        missing = {"experiments", "runs", "params", "tags", "metrics"} - tables
        if missing:
            raise InvalidInputError(
                f"{path} is not an MLflow store (no table {', '.join(sorted(missing))})",
                "give the database MLflow's tracking URI named (sqlite:///mlflow.db)",
            )

    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(
                f"{self.description} cannot be read ({exc})",
                "check it is an MLflow database and not written to right now",
            ) from None

    def experiments(self) -> list[MlflowExperiment]:
        rows = self._query("SELECT experiment_id, name, lifecycle_stage FROM experiments")
        return sorted(
            (MlflowExperiment(str(r[0]), str(r[1]), r[2] == "deleted") for r in rows),
            key=lambda e: e.id,
        )

    def run_ids(self, experiment: MlflowExperiment) -> list[str]:
        sql = "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY run_uuid"
        return [str(r[0]) for r in self._query(sql, _experiment_key(experiment.id))]

    def read_run(self, experiment: MlflowExperiment, run_id: str) -> MlflowRun:
        row = self._query(
            "SELECT name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri"
            " FROM runs WHERE run_uuid = ?",
            run_id,
        )[0]
        where = f"run {run_id} of {self.description}"
        if row[2] not in _STATUS_NUMBERS.values():
            raise InvalidRunError(f"{where} has status {row[2]!r}", "repair the row")
        run = MlflowRun(
            run_id=run_id,
            experiment=experiment,
            name=_text_or_none(row[0]),
            user=_text_or_none(row[1]),
            status=str(row[2]),
            start_ms=_ms(row[3], where),
            end_ms=_ms(row[4], where),
            deleted=row[5] == "deleted",
            artifact_uri=_text_or_none(row[6]),
        )
        for table, target in (("params", run.params), ("tags", run.tags)):
            for key, value in self._query(
                f"SELECT key, value FROM {table} WHERE run_uuid = ?", run_id
            ):
                target[str(key)] = "" if value is None else str(value)
        return run

    def read_metrics(self, run: MlflowRun) -> MetricSeries:
        keys = self._query("SELECT DISTINCT key FROM metrics WHERE run_uuid = ?", run.run_id)
        for (key,) in sorted(keys):
            yield str(key), self._points(run, key)

    def _points(self, run: MlflowRun, key: Any) -> MetricPoints:
        try:
            rows = self.db.execute(
                "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?"
                " AND key = ? ORDER BY timestamp, step",
                (run.run_id, key),
            )
        except sqlite3.DatabaseError as exc:
            raise InvalidRunError(f"{self.description} cannot be read ({exc})", "") from None
        for step, stamp, value, is_nan in rows:
            if (
                not isinstance(step, int)
                or not isinstance(stamp, int)
                or not (is_nan or isinstance(value, int | float))
            ):
                raise InvalidRunError(
                    f"metric '{key}' of run {run.run_id} has a point without an integer step"
                    " and timestamp and a number",
                    "repair the row",
                )
            yield step, stamp, float("nan") if is_nan else float(value)


def _experiment_key(experiment_id: str) -> Any:
    return int(experiment_id) if experiment_id.isdigit() else experiment_id


def _subdirs(folder: Path) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            yield Path(entry.path)


def _read_meta(path: Path, where: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidRunError(
            f"{where} cannot be read ({exc.strerror})", "check the file"
        ) from None
    try:
        meta = yamlio.load(raw, where)
    except InvalidRunError as exc:  # PyYAML's message spans lines: one line per failure
        raise InvalidRunError(" ".join(exc.message.split()), exc.hint) from None
    if not isinstance(meta, dict):
        raise InvalidRunError(f"{where} is not a mapping", "repair the file")
    return meta


def _read_run_meta(path: Path) -> dict[str, Any]:
    try:
        return _read_meta(path, str(path))
    except InvalidRunError as exc:
        raise InvalidRunError(exc.message, "repair the run's meta.yaml or remove the run") from None


def _key_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Each file under ``folder`` and its key (``a/b`` for ``folder/a/b``), sorted."""
    if not folder.is_dir():
        return
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_symlink():
                raise InvalidRunError(f"{path} is a symbolic link", "MLflow never writes one")
            yield path.relative_to(folder).as_posix(), path


def _read_values(folder: Path) -> Iterator[tuple[str, str]]:
    for key, path in _key_files(folder):
        if path.stat().st_size > _MAX_VALUE_BYTES:
            raise InvalidRunError(f"{path} is over {_MAX_VALUE_BYTES:,} bytes", "")
        try:
            yield key, path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRunError(f"{path} is not UTF-8 text", "repair or remove it") from None


def _metric_lines(path: Path) -> MetricPoints:
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                yield _metric_line(line, path, number)
    except OSError as exc:
        raise InvalidRunError(f"{path} cannot be read ({exc.strerror})", "") from None


def _metric_line(line: bytes, path: Path, number: int) -> tuple[int, int, float]:
    """``<timestamp> <value> [<step> [<dataset> <digest>]]`` (MLflow's FileStore)."""
    parts = line.split()
    try:
        if len(parts) not in (2, 3, 5):
            raise ValueError(f"{len(parts)} fields")
        step = int(parts[2]) if len(parts) >= 3 else 0
        return step, int(parts[0]), float(parts[1])
    except ValueError as exc:
        raise InvalidRunError(
            f"{path} line {number} is not '<timestamp> <value> <step>' ({exc})",
            "repair or remove the metric file",
        ) from None


def _ms(value: Any, where: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRunError(f"{where} has a time {value!r} that is not milliseconds", "")
    return value


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
