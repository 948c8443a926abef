"""How many packs and loose objects a repository holds, from file names alone: what the
background compaction (``gitruns.compaction``) decides from after every write and fetch.
Apart from ``gitruns.format.packs`` (which re-exports both), whose hashing and zlib imports
a fetch that only counts does not need (about 6 ms of CPU)."""

from __future__ import annotations

import os
from pathlib import Path


def count_packs(objects_dir: Path) -> int:
    try:
        names = os.listdir(os.path.join(objects_dir, "pack"))
    except FileNotFoundError:
        return 0
    # Names ending in ".pack", counted in C: every write looks, over up to 150 names.
    return ("\0".join(names) + "\0").count(".pack\0")


def loose_objects_past(objects_dir: Path, limit: int) -> bool:
    """Whether there are about more than ``limit`` loose objects, estimated as git's
    ``gc --auto`` does from one of the 256 fan-out folders (``objects/17``)."""
    try:
        found = sum(1 for entry in os.scandir(objects_dir / "17") if len(entry.name) == 38)
    except FileNotFoundError:
        return False
    return found > (limit + 255) // 256
