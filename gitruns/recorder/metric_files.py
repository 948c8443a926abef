"""Metrics that an unmodified program wrote to files: TensorBoard event files and the
``metrics.csv`` of CSV loggers (PyTorch Lightning's ``CSVLogger``, and so the default
logger of a Lightning job without TensorBoard installed).

At the end of ``gitruns record``, every such file under the working directory that was
written during the run (written_files.py) is read and its series logged into the run:

- a key is the series' tag (TensorBoard) or column (CSV); when the same tag comes from
  files in several folders (Keras writes ``train/`` and ``validation/`` event files with
  the same tags), each key is prefixed with its folder relative to the working directory
  (``logs/validation/epoch_loss``); within one folder the first file wins (event files
  before ``metrics.csv``, which would repeat them when both loggers are on);
- a key the program already logged through gitruns, or that cannot name a metric, is
  skipped with a warning;
- steps and times come from the file: an event's ``step`` and ``wall_time``; a CSV row's
  ``step`` column (else ``epoch``, else its row number), with the file's modification
  time (CSV loggers write no time);
- ``run.yaml`` ``metric_sources`` names the file each key came from
  (``tensorboard:<path>``, ``csv:<path>``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from gitruns.errors import InvalidInputError
from gitruns.format.validation import check_metric_key
from gitruns.recorder.written_files import find_written
from gitruns.recording.active import ActiveRun
from gitruns.recording.staging import writer_dirs
from gitruns.recording.staging_files import KEYS_FILE

CSV_NAME = "metrics.csv"
MAX_CSV_BYTES = 256 * 1024 * 1024
# (key, value, step, timestamp in seconds)
Emit = Callable[[str, float, int, float], None]


# Plain classes: no `dataclasses` (and `inspect`) on record's path (recorder.RecordOptions)
class Series:
    """The points of one metric read from a file the run wrote."""

    __slots__ = ("kind", "path", "points", "tag")

    def __init__(self, path: Path, kind: str, tag: str) -> None:
        self.path = path
        self.kind = kind  # "tensorboard" or "csv"
        self.tag = tag
        self.points: list[tuple[int, float, float]] = []  # step, time, value


class ImportReport:
    """Where imported metrics came from, and what went wrong."""

    __slots__ = ("points", "sources", "warnings")

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}  # key -> "tensorboard:<path>"
        self.points = 0
        self.warnings: list[str] = []


def is_metric_file(name: str) -> bool:
    return name == CSV_NAME or name.startswith("events.out.tfevents.")


def import_metrics(root: Path, since: float, emit: Emit, taken: Iterable[str]) -> ImportReport:
    """Read the metric files written under ``root`` since ``since`` and ``emit`` each
    point; keys in ``taken`` (already logged by the program) are left alone."""
    report = ImportReport()
    files = find_written(root, is_metric_file, since)
    files.sort(key=lambda path: (path.parent, path.name == CSV_NAME, path.name))
    series: list[Series] = []
    if files:  # csv and the event reader load only for a run that wrote such files
        import csv
    for path in files:
        try:
            series += read_metric_file(path)
        except (OSError, ValueError, csv.Error) as exc:
            report.warnings.append(f"could not import metrics from {_shown(path, root)}: {exc}")
    for key, one in _keyed(series, root, set(taken), report):
        for step, stamp, value in one.points:
            emit(key, value, step, stamp)
        report.points += len(one.points)
        report.sources[key] = f"{one.kind}:{_shown(one.path, root)}"
    return report


def logged_keys(run: ActiveRun) -> set[str]:
    """Metric keys that any process of the run has logged so far (its journals' key lists)."""
    keys = set(run.metrics)
    for folder in writer_dirs(run.run_dir):
        try:
            lines = (folder / KEYS_FILE).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                keys.add(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                continue
    return keys


def read_metric_file(path: Path) -> list[Series]:
    if path.name == CSV_NAME:
        return read_metrics_csv(path)
    from gitruns.capture.tfevents import read_scalars

    found: dict[str, Series] = {}
    for point in read_scalars(path):
        if point.step < 0:
            continue
        one = found.setdefault(point.tag, Series(path, "tensorboard", point.tag))
        one.points.append((point.step, point.wall_time, point.value))
    return list(found.values())


def read_metrics_csv(path: Path) -> list[Series]:
    """Columns of a CSV logger's file as series; empty or non-numeric cells are skipped
    (Lightning writes one row per logging call, with only that call's columns filled)."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ValueError(f"over {MAX_CSV_BYTES} bytes")
    stamp = path.stat().st_mtime
    import csv

    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return []
    columns = list(rows[0])
    step_column = next((c for c in ("step", "epoch") if c in columns), None)
    found: dict[str, Series] = {}
    for number, row in enumerate(rows):
        step = _integer(row.get(step_column)) if step_column else number
        if step is None or step < 0:
            continue
        for column in columns:
            value = _number(row.get(column))
            if column in (None, "step") or value is None:
                continue
            one = found.setdefault(column, Series(path, "csv", column))
            one.points.append((step, stamp, value))
    return list(found.values())


def _keyed(
    series: list[Series], root: Path, taken: set[str], report: ImportReport
) -> list[tuple[str, Series]]:
    folders: dict[str, set[Path]] = {}
    for one in series:
        folders.setdefault(one.tag, set()).add(one.path.parent)
    chosen: list[tuple[str, Series]] = []
    used: set[str] = set()
    for one in series:
        key = one.tag
        folder = _shown(one.path.parent, root)
        if len(folders[one.tag]) > 1 and folder != ".":
            key = f"{folder}/{one.tag}"
        if key in used:
            continue  # a second logger in the same folder repeating the same series
        why = _unusable(key, taken)
        if why:
            report.warnings.append(f"metric {key!r} from {_shown(one.path, root)} {why}")
            continue
        used.add(key)
        chosen.append((key, one))
    return chosen


def _unusable(key: str, taken: set[str]) -> str | None:
    if key in taken:
        return "not imported: the program logged that key itself"
    if key.startswith("system/"):
        return "not imported: system/ is gitruns' own system metrics"
    try:
        check_metric_key(key)
    except InvalidInputError as exc:
        return f"not imported: {exc.message}"
    return None


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.fspath(path)


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _integer(text: str | None) -> int | None:
    value = _number(text)
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value)
