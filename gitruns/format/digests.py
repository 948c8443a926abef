"""SHA-1 and SHA-256 of small data without loading OpenSSL.

``import hashlib`` loads OpenSSL's libcrypto (``_hashlib``): 3-4 ms of CPU, a few percent
of all that ``gitruns record -- python -c pass`` may add (issue 16), where the run's pack
and the package cache's key hash a few kilobytes. CPython's own implementations
(``_sha1``, ``_sha256``; ``_sha2`` from Python 3.12) load in about 0.2 ms but hash
several times slower (SHA-1: 66 MB/s against 600 MB/s here), so they take small inputs
only, up to ``BUILTIN_BUDGET`` bytes a process (about what loading OpenSSL costs in
time); past it, once hashlib is loaded anyway, or where CPython was built without them,
hashlib's. Either gives the same digest. Streamed (large) data goes to hashlib directly.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

BUILTIN_BUDGET = 128 * 1024  # bytes a process hashes with CPython's own code at most

try:
    from _sha1 import sha1 as _builtin_sha1  # type: ignore[import-not-found]
except ImportError:  # CPython built without its own SHA-1 (--with-builtin-hashlib-hashes)
    _builtin_sha1 = None
try:
    from _sha256 import sha256 as _builtin_sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha2 import sha256 as _builtin_sha256  # type: ignore[import-not-found]
    except ImportError:
        _builtin_sha256 = None

_budget = BUILTIN_BUDGET  # left to the builtin code in this process (threads may race: harmless)


class Hash(Protocol):
    """What both kinds of hash object offer."""

    def update(self, data: bytes | bytearray, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def sha1(data: bytes | bytearray = b"") -> Hash:
    """A SHA-1 hash object holding ``data`` (hash more with ``update`` only a little)."""
    return _new("sha1", _builtin_sha1, data)


def sha256(data: bytes | bytearray = b"") -> Hash:
    """A SHA-256 hash object holding ``data`` (hash more with ``update`` only a little)."""
    return _new("sha256", _builtin_sha256, data)


def _new(name: str, builtin: Any, data: bytes | bytearray) -> Hash:
    global _budget
    if builtin is not None and "hashlib" not in sys.modules and len(data) <= _budget:
        _budget -= len(data)
        hasher: Hash = builtin(data)
        return hasher
    import hashlib

    hasher = getattr(hashlib, name)(data)
    return hasher
