"""Fast acceptance checks for the run schemas (run, params, summary, artifacts).

Validating every run with jsonschema is a third of the time it takes to build the run
cache from scratch. These hand-written checks accept only documents that the JSON
Schemas in gitruns/schemas/ accept too; anything they do not accept goes to jsonschema,
which decides and writes the error message. tests/test_cache.py checks the agreement.
"""

from __future__ import annotations

import re
from typing import Any

# The patterns of schemas/run.schema.json, matched as jsonschema matches them (re.search).
_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "CRASHED")
_RUN_REQUIRED: tuple[str, ...] = ("schema_version", "id", "name", "status", "start_time")
_RUN_REQUIRED += ("end_time", "user", "host", "git", "tags", "notes", "parents")
_RUN_REQUIRED_KEYS = frozenset(_RUN_REQUIRED)
# Types tested exactly (``type(x) is int``), not with isinstance: stricter, so still only
# what the schemas accept (what YAML and JSON build has exactly these types), and faster.
_SCALARS = frozenset((str, int, float, bool, type(None)))
_NUMBERS = frozenset((int, float))


def accepts(name: str, document: Any) -> bool:
    """True when ``document`` certainly fits schema ``name``; False means "ask jsonschema"."""
    if name == "params":
        return isinstance(document, dict) and _plain_mapping(document)
    if name == "summary":
        return isinstance(document, dict) and all(map(_summary, document.values()))
    if name == "run":
        return isinstance(document, dict) and _run(document)
    if name == "artifacts":
        return isinstance(document, list) and all(map(_artifact, document))
    return False


def _run(doc: dict[str, Any]) -> bool:
    """run.schema.json, property by property (extra top-level keys are allowed there)."""
    get = doc.get
    return (
        doc.keys() >= _RUN_REQUIRED_KEYS
        and type(doc["schema_version"]) is int
        and doc["schema_version"] >= 1
        and _matches(_RUN_ID, doc["id"])
        and type(doc["name"]) is str
        and len(doc["name"]) <= 250
        and ("experiment" not in doc or _short_text(doc["experiment"]))
        and doc["status"] in _STATUSES
        and isinstance(doc["start_time"], str)
        and _optional(doc["end_time"], str)
        and (get("duration_s") is None or (_number(doc["duration_s"]) and doc["duration_s"] >= 0))
        and (get("exit_code") is None or _integer(doc["exit_code"]))
        and (get("error") is None or _error(doc["error"]))
        and _user(doc["user"])
        and isinstance(doc["host"], str)
        and _git(doc["git"])
        and _string_map(doc["tags"])
        and isinstance(doc["notes"], list)
        and all(map(_note, doc["notes"]))
        and _string_list(doc["parents"])
        and (
            "inputs" not in doc
            or (isinstance(doc["inputs"], list) and all(map(_input, doc["inputs"])))
        )
        and ("param_sources" not in doc or _string_map(doc["param_sources"]))
        and ("metric_sources" not in doc or _string_map(doc["metric_sources"]))
        and _optional(get("command"), dict)
        and _optional(get("environment"), dict)
        and _optional(get("hydra"), dict)
        and (get("resources") is None or _resources(doc["resources"]))
    )


_RESOURCE_INTEGERS = frozenset(
    ("disk_read_bytes", "disk_write_bytes", "net_sent_bytes", "net_recv_bytes", "samples")
) | {"gpu_count"}
_RESOURCE_NUMBERS = frozenset(
    ("wall_s", "cpu_s", "cpu_user_s", "cpu_system_s", "cpu_hours", "peak_rss_mb", "gpu_hours")
) | {"gpu_energy_wh", "peak_gpu_utilization_percent", "mean_gpu_utilization_percent"}
_RESOURCE_NUMBERS |= {"peak_gpu_memory_mb"}
_GPU_NUMBERS = frozenset(
    ("hours", "peak_utilization_percent", "mean_utilization_percent", "peak_memory_mb")
) | {"peak_run_memory_mb", "energy_wh"}


def _resources(value: Any) -> bool:
    """run.schema.json's ``resources``: totals >= 0, per-GPU entries, a cost estimate."""
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if key in _RESOURCE_INTEGERS:
            ok = _integer(item) and item >= 0
        elif key in _RESOURCE_NUMBERS:
            ok = _non_negative(item)
        elif key == "sample_interval_s":
            ok = item is None or _non_negative(item)
        elif key in ("gpu_attribution", "error"):
            ok = isinstance(item, str)
        elif key == "gpus":
            ok = isinstance(item, list) and all(map(_gpu_totals, item))
        elif key == "cost":
            ok = _cost(item)
        else:
            ok = True  # fields of later versions: the schema allows them
        if not ok:
            return False
    return True


def _gpu_totals(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _integer(value.get("index"))
        and value["index"] >= 0
        and isinstance(value.get("used"), bool)
        and _strings(value, "name", "uuid")
        and all(_non_negative(value[k]) for k in _GPU_NUMBERS if k in value)
    )


def _cost(value: Any) -> bool:
    rates = value.get("gpu_hour_rates", []) if isinstance(value, dict) else None
    return (
        isinstance(value, dict)
        and _non_negative(value.get("total"))
        and all(_non_negative(value[k]) for k in ("gpu", "cpu", "cpu_hour_rate") if k in value)
        and _strings(value, "currency")
        and isinstance(rates, list)
        and all(
            isinstance(r, dict) and isinstance(r.get("model"), str) and _non_negative(r.get("rate"))
            for r in rates
        )
    )


def _non_negative(value: Any) -> bool:
    return _number(value) and value >= 0


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 250


def _optional(value: Any, kind: type) -> bool:
    return value is None or isinstance(value, kind)


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.search(value) is not None


def _string_map(value: Any) -> bool:
    if type(value) is not dict:
        return False
    for item in value.values():  # noqa: SIM110 (a loop: half the time of all() over a generator)
        if type(item) is not str:
            return False
    return True


def _strings(value: dict[str, Any], *keys: str) -> bool:
    for key in keys:  # noqa: SIM110 (a loop: half the time of all() over a generator)
        if key in value and type(value[key]) is not str:
            return False
    return True


def _string_list(value: Any) -> bool:
    if type(value) is not list:
        return False
    for item in value:  # noqa: SIM110 (a loop: half the time of all() over a generator)
        if type(item) is not str:
            return False
    return True


def _error(value: Any) -> bool:
    return isinstance(value, dict) and _strings(value, "type", "message", "traceback")


def _user(value: Any) -> bool:
    return (
        type(value) is dict
        and type(value.get("name")) is str
        and type(value.get("email")) is str
        and ("os_user" not in value or type(value["os_user"]) is str)
    )


_GIT_REQUIRED = frozenset(("commit", "branch", "dirty"))


def _git(value: Any) -> bool:
    return (
        type(value) is dict
        and value.keys() >= _GIT_REQUIRED
        and (value["commit"] is None or _matches(_SHA1, value["commit"]))
        and (value.get("snapshot") is None or _matches(_SHA1, value["snapshot"]))
        and _optional(value["branch"], str)
        and _optional(value.get("remote_url"), str)
        and isinstance(value["dirty"], bool)
    )


def _note(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("text"), str)
        and _strings(value, "author", "time")
    )


def _artifact(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("path"), str)
        and value["path"] != ""
        and _matches(_SHA256, value.get("sha256"))
        and _integer(value.get("size"))
        and value["size"] >= 0
        and isinstance(value.get("uri"), str)
        and _optional(value.get("media_type"), str)
        and _optional(value.get("time"), str)
        and (value.get("step") is None or (_integer(value["step"]) and value["step"] >= 0))
    )


def _input(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("path"), str)
        and (value.get("sha256") is None or _matches(_SHA256, value["sha256"]))
        and (value.get("size") is None or (_integer(value["size"]) and value["size"] >= 0))
        and _optional(value.get("uri"), str)
    )


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        for item in value:  # noqa: SIM110 (a loop: half the time of all() over a generator)
            if type(item) not in _SCALARS and not _plain(item):
                return False
        return True
    return kind is dict and _plain_mapping(value)


def _plain_mapping(mapping: dict[Any, Any]) -> bool:
    for key, value in mapping.items():
        if type(key) is not str or (type(value) not in _SCALARS and not _plain(value)):
            return False
    return True


def _integer(value: Any) -> bool:
    return type(value) is int


def _number(value: Any) -> bool:
    return type(value) in _NUMBERS


def _summary(entry: Any) -> bool:
    if type(entry) is not dict:
        return False
    count = entry.get("count")
    return (
        type(count) is int
        and count >= 0
        and type(entry.get("last")) in _NUMBERS
        and type(entry.get("min")) in _NUMBERS
        and type(entry.get("max")) in _NUMBERS
        and type(entry.get("last_step")) is int
        and ("last_timestamp" not in entry or type(entry["last_timestamp"]) is int)
    )
