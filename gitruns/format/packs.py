"""Write git objects straight into a pack that gc cannot touch until a ref holds them.

A loose object that no ref reaches yet is fair game for ``git gc --prune=now`` (or
``gitruns gc --now``): a run being finalised, whose objects exist but whose ref does not
yet, lost them in a race. Git's own rule protects a pack with a ``.keep`` file: ``repack``
leaves it whole and ``prune`` only deletes loose objects. So gitruns writes each batch of
new objects (a run's files, trees and commit; an annotation's) as one pack, creates its
``.keep`` before the pack becomes visible, moves the ref, and only then removes the keep
file (``KeptPack.release``). There is no moment at which the objects are visible and
unprotected, whatever gc runs when.

Pure Python (zlib; SHA-1 from ``digests``, hashlib's for streamed files): the object
formats are git's (``tree``, ``commit``, pack v2, index v2), written byte for byte as git
and libgit2 write them; tests check ids against pygit2's. Large files are streamed: memory
stays flat.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gitruns.format import digests

KEEP_PREFIX = b"gitruns "  # first bytes of every .keep file gitruns writes
INDEX_MAGIC = b"\xfftOc"  # first bytes of a pack index (v2), and of a brief keep file
LINKED_KEEP_REASON = "brief keep"  # the reason gitruns_keeps gives for a brief keep
_TYPES = {"commit": 1, "tree": 2, "blob": 3}
_CHUNK = 1 << 20
_FILE_LEVEL = 1  # zlib level of every object: libgit2 writes loose objects at this level
_T = TypeVar("_T")

# A small object is compressed with a 4 KiB window and a smaller hash table: zlib's default
# state (256 KiB, set up for every object) cost 50-70 us an object where the compression
# itself costs a few, and a small run's pack has 13 objects. The window covers the whole
# object, so the output is as small; any zlib reader (git, libgit2) reads it.
_SMALL_OBJECT_BYTES = 4096
_SMALL_WINDOW_BITS = 12
_SMALL_MEM_LEVEL = 5
# Compressed entries of small objects this process packed lately, by id: the runs of a
# sweep repeat their environment files, artifacts list and folders byte for byte.
_RECENT_ENTRIES: dict[bytes, tuple[bytes, int]] = {}
_RECENT_LIMIT = 256
MODE_TREE = 0o040000
MODE_BLOB = 0o100644


def object_id(kind: str, data: bytes) -> str:
    """The SHA-1 git names an object by."""
    return digests.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest()


def tree_bytes(entries: dict[str, tuple[int, str]]) -> bytes:
    """A tree object's content from ``{name: (mode, hex id)}``, in git's entry order
    (names compared as bytes, a folder's name as if it ended with ``/``)."""

    def order(name: str) -> bytes:
        raw = name.encode("utf-8", "surrogateescape")
        return raw + b"/" if entries[name][0] == MODE_TREE else raw

    parts = []
    for name in sorted(entries, key=order):
        mode, oid = entries[name]
        raw = name.encode("utf-8", "surrogateescape")
        parts.append(b"%o %s\0" % (mode, raw) + bytes.fromhex(oid))
    return b"".join(parts)


def signature_line(name: bytes, email: bytes, when: int, offset_minutes: int) -> bytes:
    """``Name <email> 1700000000 +0100`` as libgit2 writes it."""
    sign = b"-" if offset_minutes < 0 else b"+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return b"%s <%s> %d %s%02d%02d" % (name, email, when, sign, hours, minutes)


def commit_bytes(
    tree: str, parents: list[str], author: bytes, committer: bytes, message: str
) -> bytes:
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines += [b"author " + author, b"committer " + committer]
    return b"\n".join(lines) + b"\n\n" + message.encode("utf-8")


class KeptPack:
    """A pack in ``objects/pack`` still protected by its ``.keep`` file."""

    # a plain class: no `dataclasses` (and `inspect`) on record's path (recorder.RecordOptions)
    __slots__ = ("keep",)

    def __init__(self, keep: Path) -> None:
        self.keep = keep

    def release(self) -> None:
        """Let gc treat the pack like any other (its objects are reachable now)."""
        self.keep.unlink(missing_ok=True)


class PackWriter:
    """Collect new objects into one pack file; ``finish`` publishes it, kept.

    The pack is written under ``tmp_dir`` (outside ``objects/``, where ``git prune``
    deletes temporary files) and renamed into ``objects/pack`` after its keep file exists.
    """

    def __init__(
        self, objects_dir: Path, tmp_dir: Path, reason: str, *, brief_keep: bool = False
    ) -> None:
        """``brief_keep``: the keep file is released as soon as the writer has moved a ref
        (not, as a dirty tree's snapshot's, while a run is staged); it is then a second
        name of the pack's index (see ``finish``)."""
        self.pack_dir = objects_dir / "pack"
        self.reason = reason
        self.brief_keep = brief_keep
        self._path = tmp_dir / f"tmp-{os.getpid()}-{os.urandom(4).hex()}.pack"
        # A small pack (a run's) is built in memory and written in one call at the end;
        # past _CHUNK bytes, or for a streamed file, it goes on in its temporary file.
        self._memory: bytearray | None = bytearray(b"PACK" + struct.pack(">II", 2, 0))
        self._file: Any = None  # the temporary file once spilled (count patched in finish)
        self._entries: dict[bytes, tuple[int, int]] = {}  # raw id -> (offset, crc32)
        self._published = False  # both temporary files renamed into objects/pack

    def add(self, kind: str, data: bytes) -> str:
        """Add an object given its content; return its id (hex)."""
        header = b"%s %d\0" % (kind.encode(), len(data))
        raw = digests.sha1(header + data).digest()
        if raw not in self._entries:
            packed, crc = _packed_entry(raw, _TYPES[kind], data)
            memory = self._memory
            if memory is not None and len(memory) + len(packed) <= _CHUNK:
                self._entries[raw] = (len(memory), crc)
                memory += packed
            else:
                file = self._spill()
                self._entries[raw] = (file.tell(), crc)
                file.write(packed)
        return raw.hex()

    def _spill(self) -> Any:
        """The temporary file, holding what was built in memory so far."""
        if self._memory is not None:
            self._file = in_folder(self._path.parent, lambda: open(self._path, "w+b"))  # noqa: SIM115
            self._file.write(self._memory)
            self._memory = None
        return self._file

    def add_file(self, path: Path) -> str:
        """Add a blob streamed from a file (flat memory whatever its size)."""
        import hashlib  # a streamed file: OpenSSL's SHA-1 (digests)

        size = path.stat().st_size
        hasher = hashlib.sha1(b"blob %d\0" % size)
        offset = self._spill().tell()
        head = _entry_header(_TYPES["blob"], size)
        self._file.write(head)
        crc = zlib.crc32(head)
        compressor = zlib.compressobj(_FILE_LEVEL)
        remaining = size
        with path.open("rb") as source:
            while remaining:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise OSError(f"{path} shrank while it was being stored")
                remaining -= len(chunk)
                hasher.update(chunk)
                out = compressor.compress(chunk)
                self._file.write(out)
                crc = zlib.crc32(out, crc)
        return self._finish(compressor, crc, hasher, offset)

    def add_loose(self, path: Path) -> str:
        """Add a loose object file (zlib of ``<kind> <size>\\0<content>``), streamed."""
        import hashlib

        source = zlib.decompressobj()
        head: bytes | None = b""
        offset = self._spill().tell()
        compressor = zlib.compressobj(_FILE_LEVEL)
        hasher = hashlib.sha1()
        crc = 0
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                data = source.decompress(chunk)
                if head is not None and b"\0" not in head + data:
                    head += data
                    continue
                if head is not None:
                    data = head + data
                    end = data.index(b"\0")
                    kind, _, size = data[:end].partition(b" ")
                    hasher.update(data[: end + 1])
                    entry = _entry_header(_TYPES[kind.decode()], int(size))
                    self._file.write(entry)
                    crc = zlib.crc32(entry)
                    data = data[end + 1 :]
                    head = None
                hasher.update(data)
                out = compressor.compress(data)
                self._file.write(out)
                crc = zlib.crc32(out, crc)
        if head is not None:
            raise OSError(f"{path} is not a git object")
        return self._finish(compressor, crc, hasher, offset)

    def _finish(self, compressor: Any, crc: int, hasher: Any, offset: int) -> str:
        """End a streamed entry begun at ``offset``: flush its compressor and record it, or
        drop it when the pack already holds the same object (the first copy is kept)."""
        out = compressor.flush()
        self._file.write(out)
        crc = zlib.crc32(out, crc)
        raw: bytes = hasher.digest()
        if raw in self._entries:
            self._file.seek(offset)
            self._file.truncate()
        else:
            self._entries[raw] = (offset, crc)
        return raw.hex()

    def __contains__(self, oid: str) -> bool:
        return bytes.fromhex(oid) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def finish(self) -> KeptPack | None:
        """Write the trailer and index, create the keep file, move both into place."""
        try:
            if not self._entries:
                return None
            count = struct.pack(">I", len(self._entries))
            if self._memory is not None:
                self._memory[8:12] = count
                checksum = digests.sha1(self._memory).digest()
                self._memory += checksum
                memory = self._memory
                in_folder(self._path.parent, lambda: _write_new_file(self._path, memory))
            else:
                checksum = self._checksum_file(count)
            index = self._path.with_suffix(".idx")
            _write_new_file(index, _index_bytes(self._entries, checksum))
            stem = self.pack_dir / f"pack-{checksum.hex()}"
            keep = stem.with_suffix(".keep")
            in_folder(self.pack_dir, lambda: self._create_keep(keep, index))
            os.replace(self._path, stem.with_suffix(".pack"))
            os.replace(index, stem.with_suffix(".idx"))  # the index last: now git sees it
            self._published = True
            return KeptPack(keep)
        finally:
            self.discard()

    def _checksum_file(self, count: bytes) -> bytes:
        """Patch the object count into the temporary file, append its checksum, close it."""
        self._file.seek(8)
        self._file.write(count)
        self._file.seek(0)
        import hashlib  # over 1 MiB

        digest = hashlib.sha1()
        while chunk := self._file.read(_CHUNK):
            digest.update(chunk)
        checksum = digest.digest()
        self._file.write(checksum)
        self._file.close()
        return checksum

    def _create_keep(self, keep: Path, index: Path) -> None:
        """A brief keep file is a hard link of the pack's index, not a new file: creating
        a file (an inode) costs 20-800 us on the disks measured here, a link and its
        removal a few, and no inode is freed when it goes (see docs/design.md, "Writing a
        small run"). Git only asks whether a ``.keep`` exists; ``gitruns_keeps`` knows
        these by the index's first bytes, and their age is the index's. A keep that must
        say whose it is (a snapshot's, kept while its run is staged) is written out."""
        if self.brief_keep:
            try:
                os.link(index, keep)
                return
            except FileExistsError:
                return  # the same pack is kept already (never write through a link)
            except OSError:
                pass  # no hard links on this file system: a file, as below
        keep.write_bytes(KEEP_PREFIX + f"{os.getpid()} {self.reason}\n".encode())

    def discard(self) -> None:
        """Drop the temporary files (after ``finish``, or instead of it)."""
        self._memory = None
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._published:
            return  # nothing left to remove (two failing unlinks a write, saved)
        self._path.unlink(missing_ok=True)
        self._path.with_suffix(".idx").unlink(missing_ok=True)


def in_folder(folder: Path, action: Callable[[], _T]) -> _T:
    """``action()``, making ``folder`` first only when it failed for want of it. The
    folders of a write (``gitruns/tmp``, ``objects/pack``, ``refs/runs``) nearly always
    exist: asking ``mkdir`` each time cost a failing system call, a ``stat`` and an
    exception, several times a run."""
    try:
        return action()
    except FileNotFoundError:
        if folder.is_dir():
            raise
    folder.mkdir(parents=True, exist_ok=True)
    return action()


def _write_new_file(path: Path, data: bytes | bytearray) -> None:
    """Write a whole file in one call (no buffered file object: fewer system calls)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _packed_entry(raw: bytes, kind: int, data: bytes) -> tuple[bytes, int]:
    """The pack entry of an object (header and zlib stream) and its CRC-32."""
    if len(data) > _SMALL_OBJECT_BYTES:
        packed = _entry_header(kind, len(data)) + zlib.compress(data, _FILE_LEVEL)
        return packed, zlib.crc32(packed)
    recent = _RECENT_ENTRIES.get(raw)
    if recent is not None:
        return recent
    compressor = zlib.compressobj(_FILE_LEVEL, zlib.DEFLATED, _SMALL_WINDOW_BITS, _SMALL_MEM_LEVEL)
    packed = _entry_header(kind, len(data)) + compressor.compress(data) + compressor.flush()
    entry = (packed, zlib.crc32(packed))
    if len(_RECENT_ENTRIES) >= _RECENT_LIMIT:
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread
            del _RECENT_ENTRIES[next(iter(_RECENT_ENTRIES))]
    _RECENT_ENTRIES[raw] = entry
    return entry


def _entry_header(kind: int, size: int) -> bytes:
    """Pack entry header: type and size, 4 bits then 7 bits a byte, low bits first."""
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def _index_bytes(entries: dict[bytes, tuple[int, int]], pack_checksum: bytes) -> bytes:
    """A version 2 pack index: fan-out table, sorted ids, CRCs, offsets, checksums."""
    ids = sorted(entries)
    counts = [0] * 256
    for raw in ids:
        counts[raw[0]] += 1
    fanout = list(itertools.accumulate(counts))
    small: list[int] = []
    large: list[int] = []
    for raw in ids:
        offset = entries[raw][0]
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    body = b"".join(
        [
            INDEX_MAGIC + struct.pack(">I", 2),
            struct.pack(">256I", *fanout),
            b"".join(ids),
            struct.pack(f">{len(ids)}I", *(entries[raw][1] for raw in ids)),
            struct.pack(f">{len(small)}I", *small),
            struct.pack(f">{len(large)}Q", *large),
            pack_checksum,
        ]
    )
    return body + digests.sha1(body).digest()


def gitruns_keeps(objects_dir: Path) -> list[tuple[Path, str]]:
    """Every ``.keep`` file gitruns wrote, with the reason it gave (``LINKED_KEEP_REASON``
    for a brief keep, which says nothing itself)."""
    found = []
    try:
        entries = list(os.scandir(objects_dir / "pack"))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.endswith(".keep"):
            continue
        try:
            with open(entry.path, "rb") as handle:
                head = handle.read(512)
        except OSError:
            continue
        if head.startswith(KEEP_PREFIX):
            found.append((Path(entry.path), head[len(KEEP_PREFIX) :].decode(errors="replace")))
        elif head.startswith(INDEX_MAGIC):  # a brief keep: a link of its pack's index
            found.append((Path(entry.path), LINKED_KEEP_REASON))
    return found
