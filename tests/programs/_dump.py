"""Write what a program parsed, as the program itself sees it, for the test to compare."""

from __future__ import annotations

import json
import os
from typing import Any


def dump(values: dict[str, Any]) -> None:
    path = os.environ.get("DUMP_ARGS")
    if path:
        with open(path, "w") as handle:
            json.dump(values, handle, default=str, sort_keys=True)
