"""Tags, notes and names of recorded runs: each change a new commit on top of the run's ref.

The ref's first-parent history is the run's audit trail. An annotation commit changes only
``run.yaml``; its message says what changed and ends with the trailer
``Gitruns-Annotation: <kind>``. The run commit itself is the first commit, walking first
parents from the tip, whose message has no such trailer (see docs/annotations.md).

Every change goes through ``Store.commit_on_top``: it re-reads the tip on each attempt and
applies the change to that tip's ``run.yaml``, so concurrent annotators lose nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import InvalidInputError, InvalidRunError
from gitruns.format import layout, schema, yamlio
from gitruns.format.validation import check_name_key, check_tag_value
from gitruns.runs.model import read_run_document, read_run_yaml
from gitruns.storage import Store

TRAILER = "Gitruns-Annotation"
KINDS = ("tag", "untag", "note", "rename", "deleted")
_TRAILER_LINE = re.compile(rf"^{TRAILER}:\s*([a-z-]+)\s*$", re.MULTILINE)
_MAX_HISTORY = 100_000


def annotation_message(kind: str, summary: str) -> str:
    """``<kind>: <summary>`` on one line, a blank line, then the trailer."""
    line = " ".join(summary.split())
    if len(line) > 72:
        line = line[:69] + "..."
    return f"{kind}: {line}\n\n{TRAILER}: {kind}\n"


def annotation_kind(message: str) -> str | None:
    """The trailer's kind, or None for a commit that is not an annotation."""
    paragraphs = message.strip().split("\n\n")
    found = _TRAILER_LINE.search(paragraphs[-1]) if len(paragraphs) > 1 else None
    return found.group(1) if found else None


def set_tags(store: Store, run_id: str, tags: Mapping[str, Any]) -> str | None:
    """Set tags; return the new commit, or None when every tag already had that value."""
    checked = {check_name_key(k, "tag key"): check_tag_value(v, k) for k, v in tags.items()}
    if not checked:
        raise InvalidInputError("no tags given", "pass KEY=VALUE pairs")

    def edit(document: dict[str, Any]) -> bool:
        before = dict(document["tags"])
        document["tags"].update(checked)
        return bool(document["tags"] != before)

    summary = ", ".join(f"{k}={v}" for k, v in sorted(checked.items()))
    return _annotate(store, run_id, "tag", summary, edit)


def delete_tags(store: Store, run_id: str, keys: Iterable[str]) -> str | None:
    """Remove tags; return the new commit, or None when none of them was set."""
    wanted = sorted({check_name_key(k, "tag key") for k in keys})
    if not wanted:
        raise InvalidInputError("no tag keys given", "pass the keys to delete")

    def edit(document: dict[str, Any]) -> bool:
        removed = [document["tags"].pop(k, None) for k in wanted]
        return any(value is not None for value in removed)

    return _annotate(store, run_id, "untag", ", ".join(wanted), edit)


def add_note(store: Store, run_id: str, text: str) -> str:
    """Append a note ``{text, author, time}``; return the new commit."""
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise InvalidInputError("a note must be non-empty text without NUL", "pass some text")
    identity = store.identity()
    note = {
        "text": text,
        "author": f"{identity.name} <{identity.email}>",
        "time": layout.iso_time(time.time()),
    }

    def edit(document: dict[str, Any]) -> bool:
        document["notes"].append(dict(note))
        return True

    commit = _annotate(store, run_id, "note", text.strip().splitlines()[0], edit)
    assert commit is not None
    return commit


def rename(store: Store, run_id: str, name: str) -> str | None:
    """Give the run a new name; None when it already has it."""
    check_name_key(name, "run name")
    if "\n" in name or len(name) > 250:
        raise InvalidInputError(f"run name {name[:40]!r} is not one short line", "shorten it")
    old_names: list[str] = []

    def edit(document: dict[str, Any]) -> bool:
        old_names.append(str(document["name"]))
        document["name"] = name
        return old_names[-1] != name

    return _annotate(store, run_id, "rename", name, edit)


def _annotate(
    store: Store,
    run_id: str,
    kind: str,
    summary: str,
    edit: Callable[[dict[str, Any]], bool],
) -> str | None:
    def change(old: str) -> tuple[dict[str, bytes | None], str] | None:
        document = read_run_document(store, run_id, old)
        document["tags"] = dict(document.get("tags", {}))
        document["notes"] = list(document.get("notes", []))
        if not edit(document):
            return None
        schema.validate("run", document, f"refs/runs/{run_id} run.yaml")
        return {layout.RUN_FILE: yamlio.dump(document)}, annotation_message(kind, summary)

    return store.commit_on_top(run_id, change)


# -- history ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    """One change in a run's life: its recording, or an annotation."""

    commit: str
    kind: str  # "recorded" or one of KINDS
    author: str
    time: float
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "kind": self.kind,
            "author": self.author,
            "time": layout.iso_time(self.time),
            "changes": list(self.changes),
        }


def history(store: Store, run_id: str, tip: str) -> list[HistoryEntry]:
    """Who changed what and when, oldest first, starting with the recording itself."""
    entries: list[HistoryEntry] = []
    commit = tip
    for _ in range(_MAX_HISTORY):
        parents, author, message, when = store.commit_info(commit)
        kind = annotation_kind(message)
        if kind is None or not parents:
            entries.append(HistoryEntry(commit, "recorded", author, when, _recorded(store, commit)))
            break
        changes = _changes(store, run_id, parents[0], commit) or [message.splitlines()[0]]
        changes += _settled_conflicts(message)
        entries.append(HistoryEntry(commit, kind, author, when, changes))
        commit = parents[0]
    return entries[::-1]


def _settled_conflicts(message: str) -> list[str]:
    """What a merge of two annotation histories settled (its ``Gitruns-Conflict`` trailers,
    written by gitruns.sharing.pull)."""
    prefix = "Gitruns-Conflict:"
    return [
        f"conflict {line[len(prefix) :].strip()}"
        for line in message.splitlines()
        if line.startswith(prefix)
    ]


def _recorded(store: Store, commit: str) -> list[str]:
    try:
        document = read_run_yaml(store, commit) or {}
        return [f"recorded as {document['name']} ({document['status']})"]
    except (InvalidRunError, KeyError):
        return ["recorded"]


def _changes(store: Store, run_id: str, before: str, after: str) -> list[str]:
    """What an annotation changed, read from the two ``run.yaml`` files."""
    try:
        old = read_run_document(store, run_id, before)
        new = read_run_document(store, run_id, after)
    except InvalidRunError:
        return []
    return describe_changes(old, new)


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = []
    if old.get("name") != new.get("name"):
        lines.append(f"name: {old.get('name')} -> {new.get('name')}")
    if old.get("status") != new.get("status"):
        lines.append(f"status: {old.get('status')} -> {new.get('status')}")
    old_tags, new_tags = old.get("tags", {}), new.get("tags", {})
    for key in sorted(set(old_tags) | set(new_tags)):
        if key not in new_tags:
            lines.append(f"tag {key} removed (was {old_tags[key]})")
        elif key not in old_tags:
            lines.append(f"tag {key}={new_tags[key]}")
        elif old_tags[key] != new_tags[key]:
            lines.append(f"tag {key}={new_tags[key]} (was {old_tags[key]})")
    # Notes compared as sets, not by position: a merge sorts both sides' notes by time,
    # so the note it brings may land before ours (docs/annotations.md, "Merges").
    old_notes, new_notes = old.get("notes", []), new.get("notes", [])
    old_keys = {_note_key(n) for n in old_notes}
    new_keys = {_note_key(n) for n in new_notes}
    for note in new_notes:
        if _note_key(note) not in old_keys:
            lines.append(f"note: {_first_line(note)}")
    for note in old_notes:
        if _note_key(note) not in new_keys:
            lines.append(f"note removed: {_first_line(note)}")
    return lines


def _note_key(note: Any) -> str:
    return json.dumps(note, sort_keys=True, default=str)


def _first_line(note: Any) -> str:
    text = str(note.get("text", "") if isinstance(note, dict) else note).strip().splitlines()
    return (text or [""])[0] + (" ..." if len(text) > 1 else "")
