"""A run's objects and ref written with plain files: the write rules, without pygit2.

``storage.Store`` writes every run through these functions, and so does ``gitruns record``
in the plain case (a clean worktree that ``recording.git_probe`` accepted), through
``PlainRepo``, without ever loading pygit2 (about 60 ms of CPU in a process that
otherwise ends in tens of milliseconds). One implementation of the rules serves both:

- a run's files, trees and commit go into one pack, kept (``.keep``) until its ref exists,
  so that no ``git gc --prune=now`` can ever see them unprotected (``format/packs.py``);
- a run's ref is created, never overwritten: ``<ref>.lock`` made exclusively (or a spare
  file linked to that name), written, renamed over the ref, as git does
  (``create_loose_ref``); a lock left by a killed writer is removed by the run's owner;
- after the ref moved, the keep goes and the background compaction decides whether packs
  or refs are due to be rolled up (``compaction.py``).

``PlainRepo`` answers the few questions finalising asks of a repository (does the run's
ref exist, is a parent commit there) from the files alone. Whenever it cannot be sure (an
odd ref file, an object it does not find in the repository's own folders) it raises
``NeedsStore`` before anything is written, and the caller finalises through ``Store``.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from gitruns import compaction
from gitruns.format import packs
from gitruns.format.layout import RUNS_PREFIX
from gitruns.format.packs import KeptPack, PackWriter

SMALL_FILE_BYTES = 1 << 20  # files up to this size are read whole into a blob
_KEEP_NAME = re.compile(r"pack-[0-9a-f]{40}\.keep")
_HEX40 = re.compile(rb"[0-9a-f]{40}")
_GIT_SPACE = " \t\n\v\f\r"  # what libgit2 trims from a signature's name and email
_T = TypeVar("_T")

# A file of the run tree is either its bytes or a file on disk to stream into a blob.
FileContent = bytes | Path


class RefLockedError(Exception):
    """Another process holds the ref's lock file (retried with backoff)."""


class InvalidSignatureError(ValueError):
    """A git identity libgit2 would refuse for a commit (the same words as its error)."""


class NeedsStore(Exception):
    """``PlainRepo`` cannot answer for sure: finalise through ``storage.Store`` instead."""


# -- objects -------------------------------------------------------------------------------
def write_tree(
    files: Mapping[str, object],
    pack: PackWriter,
    existing_blob: Callable[[object], str | None] | None = None,
) -> str:
    """The tree of ``{"a/b.txt": bytes | Path | an existing blob}``, built bottom-up into
    ``pack``; ``existing_blob`` turns a caller's own blob reference into its id (None for
    anything else)."""
    root: dict[str, object] = {}
    for path, content in files.items():
        node = root
        *folders, leaf = path.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})  # type: ignore[assignment]
        node[leaf] = content
    return _write_folder(root, pack, existing_blob)


def _write_folder(
    folder: Mapping[str, object],
    pack: PackWriter,
    existing_blob: Callable[[object], str | None] | None,
) -> str:
    entries: dict[str, tuple[int, str]] = {}
    for name, content in folder.items():
        if isinstance(content, dict):
            entries[name] = (packs.MODE_TREE, _write_folder(content, pack, existing_blob))
        elif isinstance(content, Path):
            entries[name] = (packs.MODE_BLOB, blob_from_file(content, pack))
        elif isinstance(content, bytes):
            entries[name] = (packs.MODE_BLOB, pack.add("blob", content))
        else:
            blob = existing_blob(content) if existing_blob is not None else None
            if blob is None:
                raise TypeError(f"cannot store {type(content).__name__} as file {name!r}")
            entries[name] = (packs.MODE_BLOB, blob)
    return pack.add("tree", packs.tree_bytes(entries))


def blob_from_file(path: Path, pack: PackWriter) -> str:
    # Small files are cheaper read whole; large ones stream (memory stays flat).
    if path.stat().st_size <= SMALL_FILE_BYTES:
        return pack.add("blob", path.read_bytes())
    return pack.add_file(path)


def signature(name: str, email: str, when: float | None) -> bytes:
    """A commit's author/committer line, at ``when`` (default now) in the local time zone,
    as libgit2's ``Signature`` writes it."""
    moment = time.time() if when is None else when
    offset = int((time.localtime(moment).tm_gmtoff or 0) / 60)
    # libgit2's rules: no angle brackets, surrounding white space trimmed, nothing empty
    if any(c in text for c in "<>" for text in (name, email)):
        raise InvalidSignatureError(
            "failed to parse signature - Neither `name` nor `email` should contain angle"
            " brackets chars."
        )
    name, email = name.strip(_GIT_SPACE), email.strip(_GIT_SPACE)
    if not name or not email:
        raise InvalidSignatureError(
            "failed to parse signature - Signature cannot have an empty name or email"
        )
    return packs.signature_line(name.encode(), email.encode(), int(moment), offset)


def new_pack(objects_dir: Path, gitruns_dir: Path, reason: str, brief_keep: bool) -> PackWriter:
    return PackWriter(objects_dir, gitruns_dir / "tmp", reason, brief_keep=brief_keep)


def write_commit(
    pack: PackWriter,
    files: Mapping[str, object] | None,
    tree: str | None,
    parents: Sequence[str],
    message: str,
    author: bytes,
    existing_blob: Callable[[object], str | None] | None = None,
) -> tuple[str, KeptPack | None]:
    """A commit (and the tree of ``files``, or the existing ``tree``) as ``pack``, kept;
    the pack is discarded on any failure."""
    try:
        if files is not None:
            tree = write_tree(files, pack, existing_blob)
        assert tree is not None
        commit = pack.add(
            "commit", packs.commit_bytes(tree, list(parents), author, author, message)
        )
        kept = pack.finish()
    except BaseException:
        pack.discard()
        raise
    return commit, kept


def release_keep(objects_dir: Path, name: str) -> None:
    """Remove a keep file named by a staged run (its snapshot's), once its ref exists."""
    if _KEEP_NAME.fullmatch(name):
        (objects_dir / "pack" / name).unlink(missing_ok=True)


def has_object(objects_dir: Path, oid: str) -> bool:
    """Whether the object is in this object folder, loose or in a pack (by its index);
    False says only "not found here" (an alternate object store may still hold it)."""
    if not re.fullmatch(r"[0-9a-f]{40}", oid):
        return False
    if (objects_dir / oid[:2] / oid[2:]).exists():
        return True
    raw = bytes.fromhex(oid)
    try:
        indexes = [e.path for e in os.scandir(objects_dir / "pack") if e.name.endswith(".idx")]
    except FileNotFoundError:
        return False
    return any(_index_holds(path, raw) for path in indexes)


def _index_holds(path: str, raw: bytes) -> bool:
    """Binary search of a pack index (v2: magic, version, 256 fan-out counts, sorted ids)."""
    try:
        with (
            open(path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m,
        ):
            if m[:8] != packs.INDEX_MAGIC + b"\0\0\0\2":
                return False
            first = raw[0]
            low = int.from_bytes(m[8 + 4 * (first - 1) : 12 + 4 * (first - 1)]) if first else 0
            high = int.from_bytes(m[8 + 4 * first : 12 + 4 * first])
            base = 8 + 1024
            while low < high:
                middle = (low + high) // 2
                found = m[base + 20 * middle : base + 20 * middle + 20]
                if found == raw:
                    return True
                if found < raw:
                    low = middle + 1
                else:
                    high = middle
    except (OSError, ValueError):
        return False
    return False


# -- refs ----------------------------------------------------------------------------------
def ref_target(common_dir: Path, name: str) -> str | None:
    """The commit a ref names, read from its loose file, else from ``packed-refs``; None
    when it is in neither. NeedsStore for anything but a plain id (a symbolic ref).

    The loose file is read first: ``git pack-refs`` writes ``packed-refs`` before it
    deletes a loose ref, so a ref being packed meanwhile is found in one or the other."""
    try:
        data = (common_dir / name).read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        # A folder (refs/runs/a/, left empty or holding refs/runs/a/b) is no loose ref:
        # git and libgit2 then read the ref from packed-refs, as here.
        return _packed_target(common_dir / "packed-refs", name)
    line = data.rstrip()  # leading whitespace: git and libgit2 read a broken ref
    if not _HEX40.fullmatch(line):
        raise NeedsStore(f"{name} is not a plain ref")
    return line.decode()


def _packed_target(packed: Path, name: str) -> str | None:
    try:
        handle = open(packed, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[-1:] != b"\n":  # cut short: git and libgit2 refuse the file
                raise NeedsStore("packed-refs does not end with a whole line")
            header = data[: data.find(b"\n") + 1] if data[:1] == b"#" else b""
            if b" sorted" in header:  # as git writes it: a binary search, flat at any size
                found = _sorted_lookup(data, len(header), name.encode())
                return None if found is None else found.decode()
            wanted = b" " + name.encode() + b"\n"
            at = data.find(wanted)
            while at >= 0:
                start = at - 40
                if start >= 0 and (start == 0 or data[start - 1 : start] == b"\n"):
                    line = data[start:at]
                    if _HEX40.fullmatch(line):
                        return bytes(line).decode()
                at = data.find(wanted, at + 1)
    return None


def _sorted_lookup(data: mmap.mmap, lo: int, name: bytes) -> bytes | None:
    """The id of ref ``name`` in a sorted ``packed-refs`` (records from offset ``lo``:
    ``<id> <name>`` lines, each maybe followed by a ``^<peeled id>`` line), or None."""
    hi = len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", lo, mid)
        start = lo if start < 0 else start + 1
        if data[start : start + 1] == b"^":  # a peeled line: its record began a line up
            start = data.rfind(b"\n", lo, start - 1)
            start = lo if start < 0 else start + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        found = data[start + 41 : end]
        if found == name:
            line = data[start : start + 40]
            return line if _HEX40.fullmatch(line) else None
        if found < name:
            lo = end + 1
            if data[lo : lo + 1] == b"^":
                after = data.find(b"\n", lo)
                lo = len(data) if after < 0 else after + 1
        else:
            hi = start
    return None


def create_loose_ref(path: Path, commit: str, spare_file: Path | None = None) -> bool:
    """Create a loose ref file as git does: ``<ref>.lock`` created exclusively, written,
    renamed over the ref. False when the ref appeared meanwhile.

    libgit2 checks a new ref against every packed ref for a folder/file clash (``a`` and
    ``a/b``), reloading ``packed-refs`` first: 150 ms in a new process and 2.4 ms each
    after that at 100,000 packed runs, where this costs the same at any size (a run id is
    new, and only the run's owner creates its ref; the caller has checked that the ref
    does not exist). A held lock raises RefLockedError, which the caller retries.

    With ``spare_file`` (a file no one reads any more, on the same file system), the lock
    is that file, overwritten with the ref's line and given the lock's name by a hard link
    (as exclusive as ``O_EXCL``): no new inode, and none freed (see docs/design.md).
    """
    lock = path.with_name(path.name + ".lock")
    # refs/runs/ is made only when missing (`git pack-refs` removes it once empty)
    return packs.in_folder(path.parent, lambda: _create_loose_ref(path, lock, commit, spare_file))


def _create_loose_ref(path: Path, lock: Path, commit: str, spare_file: Path | None) -> bool:
    fd: int | None = None
    if spare_file is None or not _lock_from_spare(spare_file, lock, commit):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError as exc:
            raise RefLockedError(f"failed to lock {lock}: it is locked") from exc
    try:
        if fd is not None:
            try:
                os.write(fd, f"{commit}\n".encode())
            finally:
                os.close(fd)
        if os.path.lexists(path):
            return False
        os.rename(lock, path)
    finally:
        if os.path.lexists(lock):
            os.unlink(lock)
    return True


def _lock_from_spare(spare_file: Path, lock: Path, commit: str) -> bool:
    """Make ``spare_file`` hold the ref line and link it as ``lock``; False (and the
    caller makes a new lock file) when it is missing or cannot be used. The line is
    written before the link, so the lock never shows anything else; a kill after the link
    leaves a lock that the owner's next try removes, as any other."""
    data = f"{commit}\n".encode()
    try:
        fd = os.open(spare_file, os.O_WRONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        if os.pwrite(fd, data, 0) != len(data):
            return False
        os.ftruncate(fd, len(data))  # never to nothing: see recording/spare.py
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        os.link(spare_file, lock)
    except FileExistsError as exc:
        raise RefLockedError(f"failed to lock {lock}: it is locked") from exc
    except OSError:
        return False  # no hard links on this file system
    with contextlib.suppress(OSError):
        os.unlink(spare_file)
    return True


def create_run_ref(
    common_dir: Path,
    run_id: str,
    commit: str,
    exists: Callable[[str], bool],
    create: Callable[[Path, str], bool] | None = None,
) -> bool:
    """``refs/runs/<id>`` at ``commit`` unless ``exists(name)``; False when it exists.

    Only the holder of the run's owner lock creates its ref (the owner, or recovery once
    the owner died), so a lock file of a ref that does not exist yet was left by a process
    killed while creating it, and is removed rather than waited on. ``create(path,
    commit)`` makes the ref (default: ``create_loose_ref``, no spare)."""
    name = RUNS_PREFIX + run_id
    if exists(name):
        return False
    (common_dir / (name + ".lock")).unlink(missing_ok=True)
    make = create or create_loose_ref
    return make(common_dir / name, commit)


def retry_locked(action: Callable[[], _T], locked: tuple[type[BaseException], ...]) -> _T:
    """A held lock file fails at once (libgit2's, or ours); git would wait. Retry with
    jitter, up to 40 times; an error of ``locked`` not about a lock is raised at once."""
    for attempt in range(40):
        try:
            return action()
        except locked as exc:
            if "lock" not in str(exc).lower() or attempt == 39:
                raise
            import random  # only when a lock is held: not on every record's path

            time.sleep(random.uniform(0.002, 0.02) * (1 + attempt / 4))
    raise AssertionError("unreachable")


# -- a repository as the plain case of `gitruns record` sees it -------------------------------
class PlainRepo:
    """The repository of a clean worktree, written without pygit2: what finalising a run
    (``recording.finalize``) and the background compaction ask of a repository.

    Built by ``recording.quick_start`` from what ``git_probe`` read; only for repositories
    whose refs are plain files (no reflog of every ref, no shared-repository permissions)
    and that are complete (no promisor remote)."""

    # a plain class: no `dataclasses` (and `inspect`) on record's path (recorder.RecordOptions)
    __slots__ = ("_kept", "author_email", "author_name", "common_dir", "config", "git_dir")

    def __init__(
        self,
        git_dir: Path,
        common_dir: Path,
        author_name: str,
        author_email: str,
        config: dict[str, str] | None = None,  # as `git config --get-regexp` says
    ) -> None:
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.author_name = author_name
        self.author_email = author_email
        self.config = {} if config is None else config
        self._kept: dict[str, KeptPack] = {}

    @property
    def objects_dir(self) -> Path:
        return self.common_dir / "objects"

    @property
    def gitruns_dir(self) -> Path:
        return self.common_dir / "gitruns"

    def promisor_remote(self) -> str | None:
        return None  # a partial clone is never a PlainRepo (quick_start checks)

    def config_entries(self, prefix: str) -> dict[str, str]:
        """Config entries whose name starts with ``prefix`` (case-insensitively), as
        ``Store.config_entries``: the probe read those ``gitruns.*`` ones."""
        wanted = prefix.lower()
        return {k: v for k, v in self.config.items() if k.lower().startswith(wanted)}

    def run_commit(self, run_id: str) -> str | None:
        return ref_target(self.common_dir, RUNS_PREFIX + run_id)

    def has_commit(self, commit: str) -> bool:
        if not has_object(self.objects_dir, commit):
            raise NeedsStore(f"commit {commit} is not in {self.objects_dir}")
        return True

    def release_keep(self, name: str) -> None:
        release_keep(self.objects_dir, name)

    def create_run_commit(
        self, files: Mapping[str, FileContent], parents: list[str], message: str, when: float
    ) -> str:
        """The run's commit, kept until ``create_ref`` has made it the run's ref."""
        present = [p for p in parents if self.has_commit(p)]
        pack = new_pack(self.objects_dir, self.gitruns_dir, "run", brief_keep=True)
        author = signature(self.author_name, self.author_email, when)
        commit, kept = write_commit(pack, files, None, present, message, author)
        if kept is not None:
            self._kept[commit] = kept
        return commit

    def create_ref(self, run_id: str, commit: str, *, spare_file: Path | None = None) -> bool:
        """Point ``refs/runs/<id>`` at ``commit``; False when the ref already exists."""

        def create() -> bool:
            return create_run_ref(
                self.common_dir,
                run_id,
                commit,
                lambda name: ref_target(self.common_dir, name) is not None,
                lambda path, new: create_loose_ref(path, new, spare_file),
            )

        created = retry_locked(create, (RefLockedError,))
        kept = self._kept.pop(commit, None)  # the ref holds the objects now
        if kept is not None:
            kept.release()
        compaction.compact_if_due(self)
        return created
