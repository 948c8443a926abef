"""Fast acceptance checks for the two simplest run schemas (params, summary).

Validating every run with jsonschema is a third of the time it takes to build the run
cache from scratch. These hand-written checks accept only documents that the JSON
Schemas in gitruns/schemas/ accept too; anything they do not accept goes to jsonschema,
which decides and writes the error message. tests/test_cache.py checks the agreement.
"""

from __future__ import annotations

from typing import Any


def accepts(name: str, document: Any) -> bool:
    """True when ``document`` certainly fits schema ``name``; False means "ask jsonschema"."""
    if name == "params":
        return isinstance(document, dict) and _plain_mapping(document)
    if name == "summary":
        return isinstance(document, dict) and all(map(_summary, document.values()))
    return False


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(map(_plain, value))
    return isinstance(value, dict) and _plain_mapping(value)


def _plain_mapping(mapping: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and _plain(v) for k, v in mapping.items())


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _summary(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and _integer(entry.get("count"))
        and entry["count"] >= 0
        and _number(entry.get("last"))
        and _number(entry.get("min"))
        and _number(entry.get("max"))
        and _integer(entry.get("last_step"))
        and ("last_timestamp" not in entry or _integer(entry["last_timestamp"]))
    )
