"""What a run may hold, checked when it is logged: the limits the read path enforces.

A run is read back with limits that protect readers from hostile input (records.py,
yamlio.py): a params.yaml or run.yaml over 4 MiB, YAML nested deeper than 64 or with more
than 200,000 nodes, an int of more digits than Python reads back. Anything that would
break one of them is refused at the call that logs it, with what to do, instead of being
recorded and then skipped by every listing (which loses the run).

Sizes are counted without serialising small values: a scalar's YAML text is at most four
times its UTF-8 length plus a little (escapes such as ``\\x01`` are the worst case);
containers and long strings are measured exactly.
"""

from __future__ import annotations

import math
from typing import Any

from gitruns.errors import InvalidInputError
from gitruns.format.layout import MAX_META_BYTES

MAX_METRIC_KEYS = 200_000  # summary.yaml then stays under records.MAX_SUMMARY_BYTES
MAX_METRIC_KEY_BYTES = 16 * 1024 * 1024  # all key names together
MAX_TEXT_BYTES = 2 * 1024 * 1024  # tags and notes, in run.yaml next to everything else
MAX_INT_BITS = 14_000  # about 4,200 digits: Python refuses to read ints of over 4,300
MAX_STEP = 2**63 - 1
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last date readers show
_EXACT_OVER = 1024  # strings longer than this are measured by serialising them


class RunBudget:
    """What one process has logged to one run so far."""

    def __init__(self) -> None:
        self.params_bytes = 0
        self.params_nodes = 1  # the params mapping itself
        self.text_bytes = 0
        self.metric_keys = 0
        self.metric_key_bytes = 0

    def param(self, key: str, value: Any) -> None:
        """Count a new param (already a plain value); refuse it when params.yaml would be
        unreadable."""
        from gitruns.format import yamlio  # here: logging metrics and tags needs no YAML

        nodes = shape(value, f"param '{key}'", depth=1)
        size = _yaml_size(key, value)
        if self.params_nodes + nodes > yamlio.MAX_NODES:
            raise InvalidInputError(
                f"param '{key}' brings the run's params to over {yamlio.MAX_NODES:,} values",
                "log big collections (lists of hundreds of thousands of items) as an artifact",
            )
        if self.params_bytes + size > MAX_META_BYTES:
            raise InvalidInputError(
                f"param '{key}' brings the run's params to over {MAX_META_BYTES:,} bytes",
                "log large values (long texts, big lists) as an artifact, not a param",
            )
        self.params_nodes += nodes
        self.params_bytes += size

    def text(self, what: str, key: str, text: str) -> None:
        """Count a tag or note (both live in run.yaml)."""
        size = _yaml_size(key, text)
        if self.text_bytes + size > MAX_TEXT_BYTES:
            raise InvalidInputError(
                f"{what} brings the run's tags and notes to over {MAX_TEXT_BYTES:,} bytes",
                "keep tags and notes short; log long text as an artifact",
            )
        self.text_bytes += size

    def metric_key(self, key: str) -> None:
        """Count a new metric key."""
        if self.metric_keys >= MAX_METRIC_KEYS:
            raise InvalidInputError(
                f"metric '{key}' would be the run's key number {MAX_METRIC_KEYS + 1:,}",
                f"a run holds at most {MAX_METRIC_KEYS:,} metric keys: log series under fewer"
                " keys (a step per item instead of a key per item)",
            )
        size = len(key.encode("utf-8"))
        if self.metric_key_bytes + size > MAX_METRIC_KEY_BYTES:
            raise InvalidInputError(
                f"metric '{key}' brings the run's metric names to over {MAX_METRIC_KEY_BYTES:,}"
                " bytes",
                "use shorter metric keys",
            )
        self.metric_keys += 1
        self.metric_key_bytes += size


def shape(value: Any, what: str, depth: int = 0) -> int:
    """The number of YAML nodes of ``value``; refuse too deep, too big or too long ints.

    ``depth`` is where ``value`` sits in its file (a param's value is at depth 1)."""
    from gitruns.format import yamlio

    nodes = 0
    stack = [(value, depth)]
    while stack:
        node, level = stack.pop()
        nodes += 1
        if level > yamlio.MAX_DEPTH:
            raise InvalidInputError(
                f"{what} is nested {level} levels deep, over the {yamlio.MAX_DEPTH} readers accept",
                "flatten it, or log it as an artifact (a JSON or YAML file)",
            )
        if nodes > yamlio.MAX_NODES:
            raise InvalidInputError(
                f"{what} holds over {yamlio.MAX_NODES:,} values",
                "log big collections as an artifact, not a param",
            )
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
        elif type(node) is int and node.bit_length() > MAX_INT_BITS:
            raise InvalidInputError(
                f"{what} holds an integer of over 4,000 digits, which Python cannot read back",
                "log it as text (str(value)) or as an artifact",
            )
    return nodes


def _yaml_size(key: str, value: Any) -> int:
    """Bytes ``key: value`` takes in a YAML file (an upper bound for small scalars)."""
    bound = 4 * len(key.encode("utf-8")) + 48
    if isinstance(value, str) and len(value) <= _EXACT_OVER:
        return bound + 4 * len(value.encode("utf-8"))
    if value is None or isinstance(value, bool | float) or type(value) is int:
        return bound + len(repr(value))
    from gitruns.format import yamlio

    return len(yamlio.dump({key: value}))


def timestamp_ms(timestamp: int | float, key: str) -> int:
    """Milliseconds of a metric timestamp given in seconds (float) or milliseconds (int);
    refuse NaN, infinities and anything readers cannot show as a date (1970 to 9999)."""
    if isinstance(timestamp, float):
        finite = math.isfinite(timestamp) and abs(timestamp) < 1e15
        milliseconds = int(timestamp * 1000) if finite else -1
    else:
        milliseconds = timestamp
    if not 0 <= milliseconds <= MAX_TIMESTAMP_MS:
        raise InvalidInputError(
            f"metric '{key}' timestamp {timestamp!r} is not a date between 1970 and 9999",
            "pass seconds as a float (time.time()) or milliseconds as an int, or leave it out",
        )
    return milliseconds


def check_step(step: int, key: str) -> int:
    if step > MAX_STEP:
        raise InvalidInputError(
            f"metric '{key}' step {step} is over {MAX_STEP}", "use steps below 2**63"
        )
    return step
