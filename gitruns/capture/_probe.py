"""Facts about the Python running this file; stdlib only, compatible with old Pythons.

gitruns runs this source with ``python -c`` under the interpreter a recorded command uses,
so it must not import gitruns; it prints one JSON object when run as a program.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from typing import Any


def facts() -> dict[str, Any]:
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        # The first of several copies on sys.path is the one that imports, as pip shows it.
        key = name.lower().replace("_", "-") if name else None
        if key and key not in seen:
            seen[key] = f"{name}=={dist.version}"
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": list(seen.values()),
    }


if __name__ == "__main__":
    print(json.dumps(facts()))
