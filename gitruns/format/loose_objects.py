"""Read a loose git object's content in chunks, in constant memory.

Neither reader git offers does that for a big loose blob: libgit2 inflates whole objects,
and ``git cat-file`` maps the whole compressed file (a 450 MB metric CSV is a 144 MB
loose object: 144 MB of resident memory in git). A loose object is only zlib over
``<type> <size>\\0<content>``, so it is inflated here, a bounded chunk at a time (never
more output per step than asked for, which also defuses a crafted "zip bomb").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import BinaryIO

_MAX_HEADER = 64  # "blob 536870912\0" is 15 bytes


class LooseObjectError(Exception):
    """The file is not the loose object it should be (corrupt, or another type/size)."""


def stream_loose_blob(file: BinaryIO, size: int, chunk_bytes: int) -> Iterator[bytes]:
    """The content of the loose blob in ``file`` (opened by the caller, closed here), in
    chunks of at most ``chunk_bytes``; raise LooseObjectError unless it is a blob of
    ``size`` bytes."""
    inflater = zlib.decompressobj()
    header: bytes | None = b""
    produced = 0
    try:
        for data in _inflated(file, inflater, chunk_bytes):
            if header is not None:
                header += data
                if b"\0" not in header:
                    if len(header) > _MAX_HEADER:
                        raise LooseObjectError("no object header")
                    continue
                head, _, data = header.partition(b"\0")
                header = None
                if head != b"blob %d" % size:
                    raise LooseObjectError(f"header {head[:_MAX_HEADER]!r}, not a blob of {size}")
            produced += len(data)
            if produced > size:
                raise LooseObjectError(f"more than {size} bytes")
            if data:
                yield data
    except zlib.error as exc:
        raise LooseObjectError(f"cannot inflate: {exc}") from exc
    finally:
        file.close()
    if header is not None or produced != size or not inflater.eof:
        raise LooseObjectError(f"{produced} of {size} bytes")


def _inflated(file: BinaryIO, inflater: zlib._Decompress, chunk_bytes: int) -> Iterator[bytes]:
    while True:
        if inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, chunk_bytes)
            continue
        block = file.read(chunk_bytes)
        if not block:
            yield inflater.flush()
            return
        yield inflater.decompress(block, chunk_bytes)
