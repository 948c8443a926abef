"""Params from several sources merged per leaf, with the source of each leaf.

``--config conf.yaml`` gives ``db: {driver: mysql, user: root}``; ``-p db.user=ann`` gives
``db: {user: ann}``. Merged per leaf, ``db`` is ``{driver: mysql, user: ann}`` (not the
whole subtree of the winner), and its sources are ``{"db.driver": "config:conf.yaml",
"db.user": "cli"}``. A key whose leaves all come from one source keeps one entry
(``{"db": "cli"}``): a leaf's source is that of its longest listed prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Highest precedence first: what the user typed for gitruns, then what the program parsed
# (exactly, or guessed from argv when it could not report), then Hydra, then config files.
SOURCE_PRECEDENCE = ("cli", "argparse", "click", "argv", "hydra", "config")
# Params these sources set are fixed for the run: logging another value is a conflict.
# Every other source is a default that the program's own logging may replace.
HARD_SOURCES = frozenset({"cli", "api"})


def source_kind(source: str) -> str:
    """``config:conf.yaml`` -> ``config``."""
    return source.split(":", 1)[0]


def rank(source: str) -> int:
    kind = source_kind(source)
    return SOURCE_PRECEDENCE.index(kind) if kind in SOURCE_PRECEDENCE else len(SOURCE_PRECEDENCE)


def nest_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"db.user": "ann", "lr": 0.1}`` -> ``{"db": {"user": "ann"}, "lr": 0.1}``. A name
    that clashes with a value already on its path is kept flat rather than dropped."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        parts = [part for part in name.split(".") if part] or [name]
        target = nested
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                nested[name] = value
                break
            target = child
        else:
            if parts[-1] in target and isinstance(target[parts[-1]], dict):
                nested[name] = value
            else:
                target[parts[-1]] = value
    return nested


def merge_by_leaf(
    by_source: Iterable[tuple[str, Mapping[str, Any]]],
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Merge ``(source, params)`` pairs per leaf, higher-precedence sources winning.

    Returns the merged params and, for each top-level key, its sources: ``{key: source}``
    when one source gave all of it, else one entry per dotted path that differs.
    """
    ranked = sorted(by_source, key=lambda item: rank(item[0]), reverse=True)  # lowest first
    merged: dict[str, Any] = {}
    origin: dict[str, Any] = {}  # same shape as merged; leaves are source names
    for source, params in ranked:
        _overlay(merged, origin, params, source)
    sources = {key: _compact(key, origin[key]) for key in merged}
    return merged, sources


def _overlay(
    merged: dict[str, Any], origin: dict[str, Any], top: Mapping[str, Any], source: str
) -> None:
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and value and isinstance(below, dict) and below:
            _overlay(merged[key], origin[key], value, source)
        else:
            merged[key] = _copy(value)
            origin[key] = _origin_of(value, source)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _origin_of(value: Any, source: str) -> Any:
    if isinstance(value, Mapping) and value:
        return {str(k): _origin_of(v, source) for k, v in value.items()}
    return source


def _compact(path: str, origin: Any) -> dict[str, str]:
    if isinstance(origin, str):
        return {path: origin}
    found: dict[str, str] = {}
    for key, child in origin.items():
        found.update(_compact(f"{path}.{key}", child))
    if len(set(found.values())) == 1:
        return {path: next(iter(found.values()))}
    return found


def hard_paths(key: str, source: str, leaf_sources: Mapping[str, str] | None) -> list[str]:
    """The dotted paths (relative to ``key``; ``""`` is the whole value) that a hard source
    fixed, given how a param was logged."""
    entries = dict(leaf_sources) if leaf_sources else {key: source}
    paths = []
    for path, origin in entries.items():
        if source_kind(origin) in HARD_SOURCES:
            paths.append(path[len(key) + 1 :] if path != key else "")
    return paths


def value_at(value: Any, path: str) -> tuple[bool, Any]:
    """``(found, value)`` at a dotted path inside a param value."""
    if not path:
        return True, value
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value
