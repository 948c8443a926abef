"""Run ids: UUIDv7, so ids sort by creation time and never collide across machines."""

from __future__ import annotations

import os
import re
import threading
import time

RUN_ID_PATTERN = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)

_lock = threading.Lock()
_last_ms = 0
_last_seq = 0


def new_run_id() -> str:
    """Return a new UUIDv7 string; ids made by one process are strictly increasing."""
    global _last_ms, _last_seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond (or clock stepped back): bump a 12-bit counter so order holds.
            ms = _last_ms
            _last_seq += 1
            if _last_seq > 0xFFF:
                ms += 1
                _last_seq = 0
        else:
            _last_seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
        _last_ms = ms
        seq = _last_seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_run_id(text: str) -> bool:
    """True when ``text`` is a well-formed run id."""
    return bool(RUN_ID_PATTERN.match(text))


def short_id(run_id: str) -> str:
    """The last 8 hex digits: the random part, unique in practice and accepted as a ref."""
    return run_id[-8:]
