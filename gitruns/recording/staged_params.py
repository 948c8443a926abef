"""The params every writer of a run in progress has logged so far, read from their journals.

A script under ``gitruns record`` writes its own journal; to apply the same
``ParamConflictError`` rules as a run of its own, it must see what the recorder (``-p``)
and other processes (``gitruns log-param``) logged. Each refresh reads only the bytes
appended since the last one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gitruns.recording.staging import writer_dirs
from gitruns.recording.staging_files import EVENTS_FILE


# a plain class, not a dataclass nor a NamedTuple: less of `record`'s start-up
# (git_probe.ProbedRepo)
class StagedParam:
    """A param some journal of the run holds, and where it came from."""

    __slots__ = ("leaf_sources", "source", "ts", "value", "writer")

    def __init__(
        self,
        value: Any,
        source: str,
        leaf_sources: dict[str, str] | None,  # dotted path -> source, when they differ by leaf
        writer: Path,  # the journal folder it came from (the run folder itself: the owner)
        ts: float,
    ) -> None:
        self.value = value
        self.source = source
        self.leaf_sources = leaf_sources
        self.writer = writer
        self.ts = ts


class StagedParams:
    """Params of one staged run, as the run would be replayed now (the last event wins)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._offsets: dict[Path, int] = {}
        self._params: dict[str, StagedParam] = {}

    def refresh(self) -> dict[str, StagedParam]:
        try:
            folders = writer_dirs(self.run_dir)
        except OSError:
            return dict(self._params)
        for folder in folders:
            for event in self._new_events(folder / EVENTS_FILE):
                if event.get("event") == "param" and isinstance(event.get("key"), str):
                    self._add(event, folder)
        return dict(self._params)

    def _add(self, event: dict[str, Any], folder: Path) -> None:
        ts = float(event.get("ts", 0.0))
        known = self._params.get(event["key"])
        if known is not None and known.ts > ts:
            return
        sources = event.get("sources")
        self._params[event["key"]] = StagedParam(
            event.get("value"),
            str(event.get("source", "api")),
            dict(sources) if isinstance(sources, dict) else None,
            folder,
            ts,
        )

    def _new_events(self, path: Path) -> list[dict[str, Any]]:
        start = self._offsets.get(path, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next refresh
        self._offsets[path] = start + end
        events = []
        for line in data[:end].split(b"\n"):
            if line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    events.append(record)
        return events


def staged_params_of(run_dir: str | os.PathLike[str]) -> dict[str, StagedParam]:
    """A one-off read of a staged run's params."""
    return StagedParams(Path(run_dir)).refresh()
