"""The package probe's facts, kept between runs in ``.git/gitruns/packages/``.

Listing a few hundred installed distributions with importlib.metadata costs 50-200 ms a
run, and the list rarely changes. It depends only on the interpreter, its ``sys.path``
and the metadata files on it, so a stored answer is reused while both hold:

- the **key**: the interpreter (the path given and the binary's mtime, size and inode),
  its ``pyvenv.cfg``, the working folder and the variables that shape ``sys.path``
  (``PYTHONPATH``, ``HOME`` ...); gitruns' own interpreter adds its ``sys.path``;
- the **fingerprint** (``_probe.fingerprint``): every ``*.dist-info``/``*.egg-info`` entry
  and its metadata file, every ``*.pth`` file and ``sitecustomize.py`` of every folder on
  that ``sys.path``, and the user site folder. ``pip install``, ``uninstall`` or an
  upgrade adds, removes or replaces one of those, so the next run lists again.

The fingerprint stored is the one the probe took before it listed, so an install that
lands while it lists is seen next time. ``GITRUNS_PACKAGE_CACHE=0`` turns the cache off;
deleting the folder is always safe. docs/environment-capture.md describes it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitruns.capture._probe import _stat, fingerprint
from gitruns.format import digests

ENV_PACKAGE_CACHE = "GITRUNS_PACKAGE_CACHE"
KEEP_ENTRIES = 32  # interpreters x working folders remembered; the oldest go first
_PATH_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "HOME",
    "APPDATA",
)
_FORMAT = 1

Probe = Callable[[str], "dict[str, Any] | None"]


def enabled() -> bool:
    return os.environ.get(ENV_PACKAGE_CACHE, "1").strip().lower() not in ("0", "false", "no")


def cached_facts(
    python: str, cache_dir: Path, probe: Probe, *, in_process: bool
) -> dict[str, Any] | None:
    """``probe(python)``'s facts, from ``cache_dir`` while still true, else probed and
    stored. ``in_process``: the facts are this interpreter's own (its ``sys.path``)."""
    key = _key(python, in_process)
    path = cache_dir / (digests.sha256(_canonical(key).encode()).hexdigest()[:40] + ".json")
    stored = _read(path)
    if stored is not None and stored.get("key") == key:
        facts = stored.get("facts")
        if isinstance(facts, dict) and _still_true(facts):
            return facts
    fresh = probe(python)
    if fresh is not None and fresh.get("cacheable") is True:
        _store(path, {"format": _FORMAT, "key": key, "facts": fresh})
    return fresh


def _key(python: str, in_process: bool) -> Any:
    binary = os.path.dirname(os.path.abspath(python))
    key: dict[str, Any] = {
        "format": _FORMAT,
        "python": python,
        "binary": _stat(python),
        "pyvenv": [_stat(os.path.join(d, "pyvenv.cfg")) for d in (binary, os.path.dirname(binary))],
        "cwd": os.getcwd(),
        "variables": {name: os.environ.get(name) for name in _PATH_VARIABLES},
    }
    if in_process:
        key["sys_path"] = [entry for entry in sys.path if isinstance(entry, str)]
        key["flags"] = [sys.flags.no_user_site, sys.flags.isolated, sys.flags.no_site]
    return _plain(key)


def _still_true(facts: dict[str, Any]) -> bool:
    path, user_site = facts.get("path"), facts.get("user_site")
    if not isinstance(path, list) or not all(isinstance(entry, str) for entry in path):
        return False
    if user_site is not None and not isinstance(user_site, str):
        return False
    # fingerprint() builds lists, ints, strings and None only: equal as JSON reads them
    return bool(fingerprint(path, user_site) == facts.get("fingerprint"))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), to compare with it."""
    return json.loads(_canonical(value))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # none yet, or torn: probe again
    return data if isinstance(data, dict) and data.get("format") == _FORMAT else None


def _store(path: Path, entry: dict[str, Any]) -> None:
    """Write ``entry`` atomically; a cache that cannot be written is only slower."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(_canonical(entry), encoding="utf-8")
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        tmp.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    entries = []
    for child in folder.iterdir():
        try:
            entries.append((child.stat().st_mtime_ns, child))
        except OSError:
            continue
    for _, child in sorted(entries, reverse=True)[KEEP_ENTRIES:]:
        child.unlink(missing_ok=True)
