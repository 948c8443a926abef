"""The files of a run commit's tree: names, and the bytes of each (the storage contract).

See docs/storage-format.md. Everything here is pure: no git, no filesystem.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

SCHEMA_VERSION = 2  # 2: artifacts are Git LFS objects with pointer files under artifacts/
RUN_FILE = "run.yaml"
PARAMS_FILE = "params.yaml"
SUMMARY_FILE = "summary.yaml"
ARTIFACTS_FILE = "artifacts.yaml"
ARTIFACTS_DIR = "artifacts"  # Git LFS pointer files, one per artifact (schema_version 2)
PATCH_FILE = "code/uncommitted.patch"
ENV_DIR = "env"
PLATFORM_FILE = "env/platform.yaml"
PACKAGES_FILE = "env/packages.txt"
VARIABLES_FILE = "env/variables.yaml"
CONDA_FILE = "env/conda.yaml"
CONDA_ENVIRONMENT_FILE = "env/environment.yml"
STDOUT_FILE = "logs/stdout.txt"
STDERR_FILE = "logs/stderr.txt"
METRICS_DIR = "metrics"
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "CRASHED")
FINAL_STATUSES = STATUSES[1:]

# Refs. A run lives at refs/runs/<id>. Runs fetched from a remote land in
# refs/remote-runs/<remote>/<id>: never under refs/runs/ (a forced, pruning fetch there could
# delete unpushed local runs) and never under refs/remotes/ (which would flood `git branch -r`).
# A deleted run waits in refs/gitruns-trash/<id> until gc purges it.
RUNS_PREFIX = "refs/runs/"
REMOTE_RUNS_PREFIX = "refs/remote-runs/"
TRASH_PREFIX = "refs/gitruns-trash/"

# Size limits of what a run's files may hold (enforced on read; fetched runs are untrusted).
MAX_META_BYTES = 4 * 1024 * 1024
MAX_METRIC_BYTES = 512 * 1024 * 1024


def metric_path(key: str) -> str:
    """``train/loss`` -> ``metrics/train/loss.csv`` (the .csv suffix keeps ``a`` and
    ``a/b`` from clashing as a file and a folder)."""
    return f"{METRICS_DIR}/{key}.csv"


def artifact_pointer_path(path: str) -> str:
    """``models/model.pt`` -> ``artifacts/models/model.pt``: where the artifact's Git LFS
    pointer file sits in the run's tree."""
    return f"{ARTIFACTS_DIR}/{path}"


def metric_key(path: str) -> str | None:
    if path.startswith(METRICS_DIR + "/") and path.endswith(".csv"):
        return path[len(METRICS_DIR) + 1 : -4]
    return None


def iso_time(seconds: float) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2026-11-26T05:28:56.123Z``."""
    # What `datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")` writes
    # (microseconds rounded half to even as datetime rounds them, then cut to milliseconds;
    # a property test compares the two), without importing datetime (1-1.5 ms of every
    # record's start-up) nor strftime's time zone lookups
    fraction, whole = math.modf(seconds)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    t = time.gmtime(whole)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{micros // 1000:03d}Z"
    )


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time, as ``datetime.fromisoformat`` reads it;
    ``iso_time``'s own form without importing datetime (a record's finalising reads it).
    The Python reading is 7x slower than datetime's, so a process that parses many times
    (a cold cache build: two a run) loads datetime after its first few."""
    global _PARSED_WITHOUT_DATETIME
    if _FROM_ISO is None and _PARSED_WITHOUT_DATETIME < 16 and re.fullmatch(_ISO_TIME_FORM, text):
        _PARSED_WITHOUT_DATETIME += 1
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
        date_exists = year >= 1 and 1 <= month <= 12 and 1 <= day <= _month_days(year, month)
        if date_exists and hour < 24 and minute < 60 and second < 60:
            seconds = ((_days_since_epoch(year, month, day) * 24 + hour) * 60 + minute) * 60
            # as datetime's timestamp(): whole microseconds over 10**6, one rounding
            return ((seconds + second) * 10**6 + int(text[20:23]) * 1000) / 10**6
    parse = _FROM_ISO or _from_iso()  # not an import each call: a cold cache build makes 2 a run
    return float(parse(text.replace("Z", "+00:00")).timestamp())


_FROM_ISO: Any = None
_PARSED_WITHOUT_DATETIME = 0


def _from_iso() -> Any:
    global _FROM_ISO
    from datetime import datetime  # here: most commands never parse a time

    _FROM_ISO = datetime.fromisoformat
    return _FROM_ISO


# compiled on first use (re's cache): every command imports this module, few parse times
_ISO_TIME_FORM = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard
    Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_metric_csv(raw: bytes) -> list[tuple[int, int, float]]:
    """``step,timestamp,value`` rows; NaN and infinities parse back as floats."""
    return list(iter_metric_rows([raw]))


def iter_metric_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, int, float]]:
    """The rows of a metric CSV given as chunks of bytes split anywhere, one at a time,
    so that a series of any length is read in constant memory. Raises ValueError at the
    first malformed line."""
    for lines in iter_line_batches(chunks, skip_header=True):
        for line in lines:
            if line:
                step, stamp, value = line.split(b",")
                yield int(step), int(stamp), float(value)


def iter_line_batches(chunks: Iterable[bytes], skip_header: bool = False) -> Iterator[list[bytes]]:
    """The lines (without ``\\n``) of text given as chunks of bytes split anywhere, a
    list per chunk (splitting a whole chunk at once is much faster than line by line)."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        if skip_header and lines:
            lines, skip_header = lines[1:], False
        yield lines
    if rest and not skip_header:
        yield [rest]


def json_safe(value: Any) -> Any:
    """NaN and infinities as the strings "NaN", "Infinity", "-Infinity" for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def metric_sort_key(key: str) -> tuple[bool, str]:
    """Display order of metric keys: the job's own metrics, then ``system/...`` ones."""
    return key.startswith("system/"), key


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted keys: ``{"model": {"layers": 12}}`` -> ``{"model.layers": 12}``
    (lists stay values; an empty mapping stays a value)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
