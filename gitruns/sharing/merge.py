"""Three-way merge of two annotation histories of one run (pure: documents in, document out).

Rules (docs/sharing.md, "Divergent annotations"):

- tags, per key: a key changed on one side only takes that change (a removal too). A key
  changed on both sides to different values is a conflict: the side whose tip commit is
  later wins (ties: the greater commit id, so every clone settles it the same way), and the
  conflict is recorded in the merge commit.
- notes: both sides kept (union), ordered by time, no duplicates; a note removed on one side
  and untouched on the other stays removed.
- name and every other field of run.yaml: as a single tag (one side's change wins; both
  changed differently: the later side wins, recorded as a conflict).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_ABSENT: Any = object()


@dataclass(frozen=True)
class Side:
    """One history's tip: its run.yaml document, commit and commit time."""

    document: dict[str, Any]
    commit: str
    time: float


@dataclass(frozen=True)
class Conflict:
    field: str
    kept: Any
    dropped: Any
    kept_commit: str

    def describe(self) -> str:
        return (
            f"{self.field}: kept {_show(self.kept)} (later, {self.kept_commit[:12]}), "
            f"dropped {_show(self.dropped)}"
        )


def later(ours: Side, theirs: Side) -> Side:
    """The side whose change wins a conflict: later tip, then greater commit id."""
    return theirs if (theirs.time, theirs.commit) > (ours.time, ours.commit) else ours


def merge_documents(
    base: dict[str, Any] | None, ours: Side, theirs: Side
) -> tuple[dict[str, Any], list[Conflict]]:
    """Combine two edited copies of run.yaml; return the result and the conflicts."""
    base = base or {}
    winner = later(ours, theirs)
    conflicts: list[Conflict] = []
    merged: dict[str, Any] = {}
    for key in sorted(set(base) | set(ours.document) | set(theirs.document)):
        if key == "tags":
            merged[key] = _merge_mapping(
                "tags.", base.get(key) or {}, ours, theirs, winner, conflicts
            )
        elif key == "notes":
            merged[key] = merge_notes(
                base.get(key) or [], ours.document.get(key) or [], theirs.document.get(key) or []
            )
        else:
            value = _merge_value(
                key,
                base.get(key, _ABSENT),
                ours.document.get(key, _ABSENT),
                theirs.document.get(key, _ABSENT),
                winner is theirs,
                theirs.commit if winner is theirs else ours.commit,
                conflicts,
            )
            if value is not _ABSENT:
                merged[key] = value
    return merged, conflicts


def _merge_mapping(
    prefix: str,
    base: dict[str, Any],
    ours: Side,
    theirs: Side,
    winner: Side,
    conflicts: list[Conflict],
) -> dict[str, Any]:
    field = prefix.rstrip(".")
    mine = ours.document.get(field) or {}
    other = theirs.document.get(field) or {}
    result: dict[str, Any] = {}
    for key in sorted(set(base) | set(mine) | set(other)):
        value = _merge_value(
            prefix + key,
            base.get(key, _ABSENT),
            mine.get(key, _ABSENT),
            other.get(key, _ABSENT),
            winner is theirs,
            winner.commit,
            conflicts,
        )
        if value is not _ABSENT:
            result[key] = value
    return result


def _merge_value(
    field: str,
    base: Any,
    ours: Any,
    theirs: Any,
    theirs_wins: bool,
    winner_commit: str,
    conflicts: list[Conflict],
) -> Any:
    if _same(ours, theirs):
        return ours
    if _same(ours, base):
        return theirs
    if _same(theirs, base):
        return ours
    kept, dropped = (theirs, ours) if theirs_wins else (ours, theirs)
    conflicts.append(Conflict(field, _plain(kept), _plain(dropped), winner_commit))
    return kept


def merge_notes(
    base: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Union of both sides' notes, minus those one side removed, sorted by time."""
    base_keys = {_note_key(n) for n in base}
    our_keys = {_note_key(n) for n in ours}
    their_keys = {_note_key(n) for n in theirs}
    kept: dict[str, dict[str, Any]] = {}
    for note in [*ours, *theirs]:
        key = _note_key(note)
        removed = key in base_keys and (key not in our_keys or key not in their_keys)
        if not removed and key not in kept:
            kept[key] = note
    return sorted(kept.values(), key=lambda n: (str(n.get("time", "")), _note_key(n)))


def _note_key(note: dict[str, Any]) -> str:
    return json.dumps(note, sort_keys=True, default=str)


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    return None if value is _ABSENT else value


def _show(value: Any) -> str:
    return "(removed)" if value is None else json.dumps(value, default=str)[:80]
