"""Annotations from the page (``gitruns ui --allow-edit``): the same compare-and-swap
commits on the run's ref as ``gitruns tag``, ``note`` and ``rename`` (annotate.py)."""

from __future__ import annotations

from typing import Any

from gitruns.errors import InvalidInputError, RunNotFoundError
from gitruns.query.resolve import find_run_id
from gitruns.runs import annotate
from gitruns.storage import Store

CHANGES = ("tags", "note", "name")


def apply(store: Store, ref: str, change: str, body: Any) -> dict[str, Any]:
    """Apply ``change`` to the local run ``ref``; return ``{"id", "commit"}`` (commit None
    when nothing changed).

    Bodies: ``tags`` ``{"set": {k: v}, "delete": [k]}``; ``note`` ``{"text": ...}``;
    ``name`` ``{"name": ...}``.
    """
    if not isinstance(body, dict):
        raise InvalidInputError("the change is not a JSON object", "send a JSON object")
    run_id = find_run_id(store, ref)
    if store.run_commit(run_id) is None:
        raise RunNotFoundError(
            f"run {run_id} is not a local run", "annotate fetched runs after 'gitruns pull'"
        )
    commit: str | None
    if change == "tags":
        commit = _tags(store, run_id, body)
    elif change == "note":
        commit = annotate.add_note(store, run_id, _text(body, "text"))
    elif change == "name":
        commit = annotate.rename(store, run_id, _text(body, "name").strip())
    else:
        raise InvalidInputError(f"unknown change '{change}'", f"use one of {', '.join(CHANGES)}")
    return {"id": run_id, "commit": commit}


def _tags(store: Store, run_id: str, body: dict[str, Any]) -> str | None:
    to_set, to_delete = body.get("set") or {}, body.get("delete") or []
    if not isinstance(to_set, dict) or not isinstance(to_delete, list):
        raise InvalidInputError("tags: 'set' must be an object, 'delete' a list", "fix the request")
    if not to_set and not to_delete:
        raise InvalidInputError("no tags given", "give a key and a value")
    commit = annotate.set_tags(store, run_id, to_set) if to_set else None
    if to_delete:
        commit = annotate.delete_tags(store, run_id, [str(k) for k in to_delete]) or commit
    return commit


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise InvalidInputError(f"'{key}' must be text", f"send {{'{key}': '...'}}")
    return value
