"""Facts about the Python running this file; stdlib only, compatible with old Pythons.

gitruns runs this source with ``python -c`` under the interpreter a recorded command uses,
so it must not import gitruns; it prints one JSON object when run as a program.

Besides the packages it reports what the list was read from (``path``, ``user_site``) and
a ``fingerprint`` of it, taken *before* the list is read: ``capture.package_cache`` keeps
the facts while a fresh fingerprint of the same folders is equal, so an install that lands
after the fingerprint was taken is seen as a change the next time.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import machinery
from typing import Any

# What importlib.metadata reads on a sys.path folder (its Lookup: ``*.dist-info`` and
# ``*.egg-info`` by a case-blind suffix, ``EGG-INFO`` inside a ``*.egg``) and what decides
# sys.path itself (``*.pth`` files and the site customisation modules).
_INFO_SUFFIXES = (".dist-info", ".egg-info")
_PATH_FILES = ("sitecustomize.py", "usercustomize.py")
_METADATA_FILES = ("METADATA", "PKG-INFO")


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _entry_fingerprint(entry: str) -> list[Any]:
    folder = entry or "."
    here = _stat(folder)
    if here is None or not os.path.isdir(folder):
        return [entry, here]  # a missing entry, or a zip file: its own stat says it all
    egg = os.path.basename(os.path.abspath(folder)).lower().endswith(".egg")
    found = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return [entry, None]
    for name in names:
        low = name.lower()
        if low.endswith(_INFO_SUFFIXES) or (egg and low == "egg-info"):
            child = os.path.join(folder, name)
            inner = []  # METADATA, else PKG-INFO: the file importlib.metadata reads
            for metadata_file in _METADATA_FILES:
                inner.append(_stat(os.path.join(child, metadata_file)))
                if inner[-1] is not None:
                    break
            found.append([name, _stat(child), inner])
        elif low.endswith(".pth") or low in _PATH_FILES:
            found.append([name, _stat(os.path.join(folder, name))])
    return [entry, [], found]


def fingerprint(path: list[str], user_site: str | None) -> list[Any]:
    """What the package list of an interpreter with this ``sys.path`` depends on: every
    distribution's metadata file and every ``.pth`` file of each folder, with mtime, size
    and inode (an install or removal adds, removes or replaces one of them)."""
    entries = [_entry_fingerprint(entry) for entry in path]
    entries.append(["user_site", user_site, _stat(user_site) if user_site else None])
    return entries


def _other_distribution_finders() -> list[str]:
    """Meta path finders other than the standard one that list distributions: their
    answer depends on things the fingerprint does not see, so such facts are not cached."""
    return [
        repr(finder)
        for finder in sys.meta_path
        if finder is not machinery.PathFinder and hasattr(finder, "find_distributions")
    ]


def facts() -> dict[str, Any]:
    from importlib import metadata  # 20-40 ms to import: only when the list is read

    try:
        import site

        user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    except Exception:
        user_site = None
    path = [entry for entry in sys.path if isinstance(entry, str)]
    before = fingerprint(path, user_site)
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        fields = dist.metadata  # parsed once: Name and Version from the same headers
        name = fields["Name"]
        # The first of several copies on sys.path is the one that imports, as pip shows it.
        key = name.lower().replace("_", "-") if name else None
        if key and key not in seen:
            seen[key] = f"{name}=={fields['Version']}"
    import platform  # here: `gitruns record` imports this module before its command starts

    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": list(seen.values()),
        "path": path,
        "user_site": user_site,
        "fingerprint": before,
        "cacheable": not _other_distribution_finders() and len(path) == len(sys.path),
    }


if __name__ == "__main__":
    print(json.dumps(facts()))
