"""``which``: ``shutil.which`` for text paths, without importing ``shutil``.

``shutil`` imports ``bz2`` and ``lzma`` (their C libraries) when it loads: about 2 ms of
the start-up of every ``gitruns record``, which needs only the PATH search (to check the
command and to find a Python child's interpreter). On POSIX this is ``shutil.which``'s
own rule (a test compares them); elsewhere (PATHEXT, the current folder first) it calls
``shutil.which``.
"""

from __future__ import annotations

import os
import sys


def which(command: str, path: str | None = None) -> str | None:
    """The file ``command`` names, as ``shutil.which(command, path=path)`` finds it."""
    if sys.platform == "win32":
        import shutil

        return shutil.which(command, path=path)
    if os.path.dirname(command):  # a path (./train.sh): looked up as it is, not on PATH
        return command if _is_executable(command) else None
    if path is None:
        path = os.environ.get("PATH")
        if path is None:
            try:
                path = os.confstr("CS_PATH")
            except (AttributeError, ValueError):
                path = os.defpath
    if not path:  # PATH='' finds nothing; PATH=':' looks in the current folder
        return None
    seen = set()
    for folder in os.fsdecode(path).split(os.pathsep):
        if folder in seen:
            continue
        seen.add(folder)
        name = os.path.join(folder, command)
        if _is_executable(name):
            return name
    return None


def _is_executable(name: str) -> bool:
    return os.path.exists(name) and os.access(name, os.F_OK | os.X_OK) and not os.path.isdir(name)
