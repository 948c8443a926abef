"""Git LFS pointer files and artifact URIs: the part of the artifact format that is text.

A run's artifact is referenced from its tree by a Git LFS pointer file at
``artifacts/<path>`` (``layout.artifact_pointer_path``), so that git-lfs's ``pre-push`` hook,
which scans pushed commits for pointer blobs, uploads the content with the run. The pointer
is exactly what ``git lfs pointer`` writes (spec v1): three lines, ``version``, ``oid``,
``size``, sorted as the spec requires. Pure: no git, no filesystem.
"""

from __future__ import annotations

import re

POINTER_VERSION = "https://git-lfs.github.com/spec/v1"
# git-lfs only reads blobs smaller than this as pointer candidates.
MAX_POINTER_BYTES = 1024
LFS_URI_SCHEME = "git-lfs"  # schema_version 2: content is a Git LFS object
LEGACY_URI_SCHEME = "gitruns-store"  # schema_version 1: content in gitruns's own store
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n"
    rb"oid sha256:(?P<oid>[0-9a-f]{64})\n"
    rb"size (?P<size>0|[1-9][0-9]{0,18})\n$"
)


def pointer_text(sha256: str, size: int) -> bytes:
    """The pointer file of an object, byte for byte as git-lfs writes it."""
    if not _SHA256.match(sha256) or size < 0:
        raise ValueError(f"not an LFS object: sha256 {sha256!r}, size {size}")
    return f"version {POINTER_VERSION}\noid sha256:{sha256}\nsize {size}\n".encode()


def parse_pointer(raw: bytes) -> tuple[str, int] | None:
    """``(sha256, size)`` of a pointer file, or None when ``raw`` is not one."""
    if len(raw) >= MAX_POINTER_BYTES:
        return None
    match = _POINTER.match(raw)
    if match is None:
        return None
    return match.group("oid").decode(), int(match.group("size"))


def artifact_uri(sha256: str) -> str:
    """The ``uri`` of an artifact entry written now: ``git-lfs:sha256/<hex>``."""
    return f"{LFS_URI_SCHEME}:sha256/{sha256}"


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and bool(_SHA256.match(text))
