"""Which files a recorded command wrote: those created or modified since the run started.

Used for ``--artifact`` globs (a stale checkpoint left by an earlier run must not become
this run's artifact) and to find the metric files (TensorBoard events, ``metrics.csv``)
that a program wrote during the run.

A file counts as written when its modification or status-change time is at or after the
start: the status-change time also catches a file copied or moved into place with an
older modification time kept (``cp -p``, ``shutil.copy2``, a rename). File times come from
the kernel's coarse clock, which can trail ``time.time()`` by one tick (at most 10 ms), so
``MTIME_SLACK_S`` of slack is allowed; an earlier run's files were written before this
``gitruns`` process even started, far more than that before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

MTIME_SLACK_S = 0.02
# Folders never searched for metric files: tools' own trees, and virtual environments.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env"})
MAX_DEPTH = 8
MAX_ENTRIES = 200_000


def written_since(path: str | os.PathLike[str], since: float) -> bool:
    """True when ``path`` was created or modified at or after ``since`` (a time.time())."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return max(info.st_mtime, info.st_ctime) >= since - MTIME_SLACK_S


def split_by_time(paths: Iterable[str], since: float) -> tuple[list[str], list[str]]:
    """(written since ``since``, older) of ``paths``, each in the given order."""
    fresh: list[str] = []
    stale: list[str] = []
    for path in paths:
        (fresh if written_since(path, since) else stale).append(path)
    return fresh, stale


def find_written(root: Path, wanted: Callable[[str], bool], since: float) -> list[Path]:
    """Files under ``root`` whose name ``wanted`` accepts and that were written since
    ``since``, sorted. Hidden folders, virtual environments and tool folders are skipped;
    the walk stops ``MAX_DEPTH`` folders down and after ``MAX_ENTRIES`` entries, so a
    data set in the working directory cannot make the end of a run slow."""
    found: list[Path] = []
    seen = 0
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            break
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and len(here.parts) - base_depth < MAX_DEPTH
            and not (here / d / "pyvenv.cfg").exists()
        ]
        found += [
            here / name for name in files if wanted(name) and written_since(here / name, since)
        ]
    return sorted(found)


def stale_files_warning(what: str, stale: list[str], shown: int = 5) -> str:
    """``--artifact 'out/*': left out 2 file(s) not written by this run (...): a, b``."""
    more = f" and {len(stale) - shown} more" if len(stale) > shown else ""
    return (
        f"{what}: left out {len(stale)} file(s) not written by this run "
        f"(unchanged since before it started): {', '.join(stale[:shown])}{more}"
    )
