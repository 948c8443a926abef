"""The one module that talks to pygit2: repositories, objects, trees, commits and refs.

Everything above this module deals in run ids, paths and bytes; nothing else imports
pygit2. Transport (push/fetch) is deliberately not here: it goes through the git CLI.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pygit2

from gitruns import compaction, runwrite
from gitruns.errors import (
    ConcurrentUpdateError,
    GitrunsError,
    InvalidRunError,
    ReadOnlyRepositoryError,
    RepositoryError,
)
from gitruns.format import packs
from gitruns.format.ids import RUN_ID_PATTERN
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.format.loose_objects import LooseObjectError, stream_loose_blob
from gitruns.format.packs import KeptPack, PackWriter
from gitruns.format.runrefs import LOCAL, parse_run_ref
from gitruns.format.treeorder import names_as_git_writes
from gitruns.format.who import os_user_and_host as _os_user_and_host
from gitruns.format.who import strip_credentials as _strip_credentials
from gitruns.runwrite import RefLockedError, create_loose_ref

SMALL_FILE_BYTES = runwrite.SMALL_FILE_BYTES
STREAM_MIN_BYTES = 4 << 20  # blobs bigger than this are streamed, never read whole
STREAM_CHUNK_BYTES = 256 << 10
MAX_UNTRACKED_BYTES = 10 << 20  # an untracked entry-point script put in the code snapshot
MISSING_OBJECT = re.compile(r"git object [0-9a-f]{40} is missing")
_KIND_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
_MODE_TREE = int(pygit2.GIT_FILEMODE_TREE)
_MODE_BLOBS = (int(pygit2.GIT_FILEMODE_BLOB), int(pygit2.GIT_FILEMODE_BLOB_EXECUTABLE))
_T = TypeVar("_T")
_DEFAULT_MWINDOW: list[int] = []  # libgit2's own pack window size, once read

# A file of the run tree is either its bytes or a file on disk to stream into a blob.
FileContent = runwrite.FileContent


@dataclass(frozen=True)
class CodeState:
    """Where the code stood when a run started."""

    commit: str | None  # what the run commit's first parent is: HEAD or a snapshot of it
    head: str | None
    branch: str | None
    remote_url: str | None
    dirty: bool
    patch: bytes | None  # uncommitted changes against HEAD, when dirty
    # The snapshot's objects are in a pack kept (``.keep``) until the run's ref exists, so
    # gc cannot prune them while the run is in progress; the keep file's name.
    keep: str | None = None


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    os_user: str
    host: str


class Store:
    """A git repository as gitruns uses it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        start = os.fspath(path) if path is not None else os.getcwd()
        gitdir = pygit2.discover_repository(start)
        if gitdir is None:
            raise RepositoryError(
                f"not a git repository: {start}",
                "run gitruns inside a git repository, or create one with 'git init'",
            )
        try:
            self.repo = pygit2.Repository(gitdir)
        except (pygit2.GitError, pygit2.InvalidError) as exc:
            raise _unsupported_repository(gitdir, exc) from exc
        self.git_dir = Path(self.repo.path)
        self.common_dir = _common_dir(self.git_dir)
        self.gitruns_dir = self.common_dir / "gitruns"
        self.workdir = Path(self.repo.workdir) if self.repo.workdir else None
        self.objects_dir = self.common_dir / "objects"
        # Packs written by this Store and still kept, by the commit they hold, until a ref
        # operation with that commit as its new value is done (see packs.py).
        self._kept: dict[str, KeptPack] = {}
        self._promisor: str | None = None  # "" once known to be a complete repository
        self._unfetchable: set[str] = set()
        self._plain_refs: bool | None = None  # see _plain_ref_files
        # The tree last looked up, by the id it was asked for: reading a run's files one
        # by one then peels its commit once (objects never change).
        self._last_tree: tuple[str | pygit2.Oid, pygit2.Tree] | None = None
        # The file ``regular_blob`` last found, by its blob id: ``sized_blob_data`` reads
        # it through its tree entry (no id to parse, no object type made by pygit2).
        self._last_file: tuple[str, pygit2.Object] | None = None
        self._identity: tuple[tuple[str | None, str | None], Identity] | None = None
        # Read once a Store, as the identity: a remote's URL by branch, the resolved worktree
        self._remote_urls: dict[str | None, str | None] = {}
        self._real_workdir: Path | None = None

    def require_writable(self) -> None:
        """Refuse plainly, before anything is tried, to write where the user may not."""
        if not os.access(self.common_dir, os.W_OK):
            raise ReadOnlyRepositoryError(
                f"the repository at {self.common_dir} is read-only for you",
                "reading runs works here; to record or change runs, use a clone you can write",
            )

    # -- identity and code ---------------------------------------------------------------
    def identity(self) -> Identity:
        """The git identity, honouring GIT_AUTHOR_* as the git CLI does (read once a
        Store: a run asks for it when it starts and again for its commit)."""
        overrides = (os.environ.get("GIT_AUTHOR_NAME"), os.environ.get("GIT_AUTHOR_EMAIL"))
        if self._identity is not None and self._identity[0] == overrides:
            return self._identity[1]
        config = self.repo.config
        name = overrides[0] or _config_get(config, "user.name")
        email = overrides[1] or _config_get(config, "user.email")
        os_user, host = _os_user_and_host()
        identity = Identity(name or os_user, email or f"{os_user}@{host}", os_user, host)
        self._identity = (overrides, identity)
        return identity

    def code_state(self, run_id: str, include_untracked: Iterable[Path] = ()) -> CodeState:
        """HEAD, branch, remote and dirty state; a snapshot commit when the tree is dirty.

        The snapshot is made like ``git stash create``: from a private copy of the index,
        so HEAD, the index file and the worktree are never touched. Untracked files are
        left out, except those of ``include_untracked`` (the script that runs) that git
        does not ignore.
        """
        repo = self.repo
        # HEAD looked up once (``head_is_unborn``, ``head``, ``head_is_detached`` and the
        # branch each read HEAD again: six reads of it a run)
        head_ref = repo.lookup_reference("HEAD")
        target = head_ref.target
        branch = target.removeprefix("refs/heads/") if isinstance(target, str) else None
        try:
            head_id = head_ref.resolve().target
        except KeyError:  # pygit2.NotFoundError: an unborn branch
            return CodeState(None, None, branch, None, False, None)
        head = repo[head_id].peel(pygit2.Commit)
        remote_url = self._remote_url(branch)
        if repo.is_bare or self.workdir is None:
            return CodeState(str(head.id), str(head.id), branch, remote_url, False, None)
        changes = {
            path: flags
            for path, flags in repo.status(untracked_files="no").items()
            if not flags & pygit2.enums.FileStatus.IGNORED
        }
        changes.update(self._untracked(include_untracked))
        if not changes:
            return CodeState(str(head.id), str(head.id), branch, remote_url, False, None)
        snapshot, patch, keep = self._snapshot(run_id, head.id, changes)
        return CodeState(snapshot, str(head.id), branch, remote_url, True, patch, keep)

    def _untracked(self, paths: Iterable[Path]) -> dict[str, int]:
        """Those of ``paths`` that are untracked, unignored regular files in the worktree,
        as worktree-relative paths (at most ``MAX_UNTRACKED_BYTES`` each)."""
        assert self.workdir is not None
        if self._real_workdir is None:
            self._real_workdir = self.workdir.resolve()
        root = self._real_workdir
        found: dict[str, int] = {}
        for path in paths:
            try:
                full = Path(path).resolve()
                relative = full.relative_to(root).as_posix()
                if not full.is_file() or full.stat().st_size > MAX_UNTRACKED_BYTES:
                    continue
                flags = self.repo.status_file(relative)
            except (OSError, ValueError, KeyError, pygit2.GitError):
                continue
            if flags & pygit2.enums.FileStatus.WT_NEW:
                found[relative] = flags
        return found

    def _snapshot(
        self, run_id: str, head: pygit2.Oid, changes: Mapping[str, int]
    ) -> tuple[str, bytes, str]:
        """The snapshot commit, its patch against HEAD, and the keep file protecting it.

        libgit2 makes the blobs (with the repository's filters) and trees in a private
        object folder; they are then moved into a kept pack, so that no gc ever sees them
        unprotected: the pack stays kept until the run's ref exists.
        """
        quarantine = self.gitruns_dir / "tmp" / f"objects-{os.getpid()}-{time.time_ns()}"
        try:
            repo = self._quarantine_repo(quarantine)
            tree_id = self._snapshot_tree(repo, changes)
            head_tree = repo[head].peel(pygit2.Tree)
            diff = head_tree.diff_to_tree(repo[tree_id].peel(pygit2.Tree))
            patch = (diff.patch or "").encode("utf-8", errors="surrogateescape")
            pack = self._new_pack(f"run {run_id} code")
            try:
                for path in sorted(quarantine.glob("??/*")):
                    pack.add_loose(path)
                # Blobs and folders that existed before may be unreachable leftovers that
                # a gc could prune: the pack holds its own copy of each.
                for oid in _snapshot_objects(repo, tree_id, changes):
                    if str(oid) not in pack:
                        kind, data = repo.odb.read(oid)
                        pack.add(_KIND_NAMES[int(kind)], data)
                message = f"gitruns: uncommitted changes for run {run_id}\n"
                commit = self._commit_object(pack, str(tree_id), [str(head)], message, None)
                kept = pack.finish()
            except BaseException:
                pack.discard()
                raise
        finally:
            shutil.rmtree(quarantine, ignore_errors=True)
        assert kept is not None
        return commit, patch, kept.keep.name

    def _quarantine_repo(self, folder: Path) -> pygit2.Repository:
        """This repository, with new objects written as loose files under ``folder``."""
        folder.mkdir(parents=True)
        repo = pygit2.Repository(str(self.git_dir))
        odb = pygit2.Odb()
        odb.add_backend(pygit2.OdbBackendLoose(str(folder), -1, False), 3)
        odb.add_backend(pygit2.OdbBackendPack(str(self.objects_dir)), 2)
        odb.add_backend(pygit2.OdbBackendLoose(str(self.objects_dir), -1, False), 1)
        for alternate in _alternates(self.objects_dir):
            odb.add_backend(pygit2.OdbBackendPack(str(alternate)), 0)
            odb.add_backend(pygit2.OdbBackendLoose(str(alternate), -1, False), 0)
        repo.set_odb(odb)
        return repo

    def _snapshot_tree(self, repo: pygit2.Repository, changes: Mapping[str, int]) -> pygit2.Oid:
        index = pygit2.Index(str(self.git_dir / "index"))
        index.read(True)
        assert self.workdir is not None
        for path in changes:
            full = self.workdir / path
            try:
                info = full.lstat()
            except FileNotFoundError:
                if path in index:
                    index.remove(path)
                continue
            if stat.S_ISDIR(info.st_mode):
                # A submodule (its files are not ours to snapshot: record the commit its
                # HEAD is at, as `git add` would), or a tracked file replaced by a folder.
                commit = _submodule_head(full)
                if commit is not None:
                    index.add(pygit2.IndexEntry(path, commit, pygit2.enums.FileMode.COMMIT))
                elif path in index and index[path].mode != pygit2.enums.FileMode.COMMIT:
                    index.remove(path)
                continue
            oid = repo.create_blob_fromworkdir(path)
            index.add(pygit2.IndexEntry(path, oid, pygit2.enums.FileMode(_file_mode(info))))
        return index.write_tree(repo)

    def _remote_url(self, branch: str | None) -> str | None:
        if branch not in self._remote_urls:
            self._remote_urls[branch] = self._read_remote_url(branch)
        return self._remote_urls[branch]

    def _read_remote_url(self, branch: str | None) -> str | None:
        config = self.repo.config
        remote = _config_get(config, f"branch.{branch}.remote") if branch else None
        for name in (remote, "origin"):
            if name:
                url = _config_get(config, f"remote.{name}.url")
                if url:
                    return _strip_credentials(url)
        return None

    # -- writing runs --------------------------------------------------------------------
    # New objects go into one pack per write, kept (``.keep``) until the ref that holds
    # them has moved: a concurrent ``git gc --prune=now`` can never prune them (packs.py).
    def write_tree(self, files: Mapping[str, FileContent | pygit2.Oid], pack: PackWriter) -> str:
        """Build a tree from ``{"a/b.txt": bytes-or-path-or-existing-blob}``, bottom-up
        (``runwrite.write_tree``: the one tree writer)."""
        return runwrite.write_tree(files, pack, _existing_blob)

    def _new_pack(self, reason: str, *, brief_keep: bool = False) -> PackWriter:
        return PackWriter(self.objects_dir, self.gitruns_dir / "tmp", reason, brief_keep=brief_keep)

    def _commit_object(
        self, pack: PackWriter, tree: str, parents: list[str], message: str, when: float | None
    ) -> str:
        ident = self.identity()
        line = runwrite.signature(ident.name, ident.email, when)
        return pack.add("commit", packs.commit_bytes(tree, parents, line, line, message))

    def _write_commit(
        self,
        reason: str,
        files: Mapping[str, FileContent | pygit2.Oid] | None,
        tree: str | None,
        parents: list[str],
        message: str,
        when: float | None,
    ) -> str:
        """Write a commit (and the tree of ``files``, or the existing ``tree``) as a kept
        pack; it stays kept until a ref operation makes the commit its new value."""
        pack = self._new_pack(reason, brief_keep=True)  # released by the ref operation
        ident = self.identity()
        author = runwrite.signature(ident.name, ident.email, when)
        commit, kept = runwrite.write_commit(
            pack, files, tree, parents, message, author, _existing_blob
        )
        if kept is not None:
            self._kept[commit] = kept
        return commit

    def _released(self, result: _T, *commits: str) -> _T:
        """After a ref operation: the packs of ``commits`` need their keep files no more."""
        for commit in commits:
            kept = self._kept.pop(commit, None)
            if kept is not None:
                kept.release()
        self._consolidate_packs()
        return result

    def release_keep(self, name: str) -> None:
        """Remove a keep file named by a staged run (its snapshot's), once its ref exists."""
        runwrite.release_keep(self.objects_dir, name)

    def _consolidate_packs(self, *, check_refs: bool = False) -> None:
        """Keep the repository compact without anyone running gc, as ``git gc --auto``
        does, in the background so the writer does not wait (``gitruns.compaction``)."""
        compaction.compact_if_due(self, check_refs=check_refs)

    @contextlib.contextmanager
    def no_background_compaction(self, wait_s: float = 600.0) -> Iterator[None]:
        """Hold the repack lock (waiting for a background compaction to end): a listing of
        refs through libgit2 may miss a ref that ``pack-refs`` moves from its loose file
        into ``packed-refs`` meanwhile, which must not happen while gc decides what no run
        references any more."""
        from gitruns.locks import LivenessLock

        deadline = time.monotonic() + wait_s
        while True:
            try:
                lock = LivenessLock.acquire(self.gitruns_dir / "repack.lock", create=True)
            except OSError:
                lock = None  # a read-only repository: nothing writes to it in the background
                break
            if lock is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def compact_in_background(self) -> None:
        """After refs were added in bulk (a fetch): roll up packs and pack refs if due."""
        self._consolidate_packs(check_refs=True)

    def create_run_commit(
        self,
        files: Mapping[str, FileContent],
        parents: list[str],
        message: str,
        when: float,
    ) -> str:
        """The run's commit, kept until ``create_ref`` has made it the run's ref.

        A parent that is missing (a code commit pruned before gitruns protected it, or
        removed by hand) is left out rather than making the run impossible to write.
        """
        present = [p for p in parents if self.has_commit(p)]
        return self._write_commit("run", files, None, present, message, when)

    def create_ref(self, run_id: str, commit: str, *, spare_file: Path | None = None) -> bool:
        """Point ``refs/runs/<id>`` at ``commit``; False when the ref already exists.

        Only the holder of the run's owner lock creates its ref (the owner, or recovery
        once the owner died), so a lock file for a ref that does not exist yet was left by
        a process killed while creating it, and is removed rather than waited on.
        ``spare_file``, when it exists, is a file of the caller's nobody reads any more
        (a finished run's journal) that becomes the ref's file: see ``_create_loose_ref``.
        """

        def make(path: Path, new: str) -> bool:
            if self._plain_ref_files():
                return create_loose_ref(path, new, spare_file)
            name = path.relative_to(self.common_dir).as_posix()
            self.repo.references.create(name, pygit2.Oid(hex=new), force=False)
            return True

        def create() -> bool:  # the rules are runwrite's, shared with the plain writer
            exists = self.repo.references.__contains__
            return runwrite.create_run_ref(self.common_dir, run_id, commit, exists, make)

        return self._released(_retry_locked(create), commit)

    def _plain_ref_files(self) -> bool:
        """True when a ref is just its loose file: no reflog of refs/runs/* to append to
        (``core.logAllRefUpdates=always``) and no shared-repository permissions to set;
        otherwise libgit2 writes the ref, which does both."""
        if self._plain_refs is None:
            config = self.repo.config
            logs = (_config_get(config, "core.logAllRefUpdates") or "").lower()
            shared = _config_get(config, "core.sharedRepository")
            self._plain_refs = logs != "always" and shared is None
        return self._plain_refs

    def update_ref(self, run_id: str, new: str, old: str) -> bool:
        """Compare-and-swap the run's ref from ``old`` to ``new``; False if it moved."""
        result = self._git_cli("update-ref", RUNS_PREFIX + run_id, new, old)
        if result.returncode != 0:
            moved = self.run_commit(run_id) != old
            _raise_if_refused(result.stderr, moved, lambda: self._released(None, new))
        return self._released(result.returncode == 0, new)

    def delete_ref(self, run_id: str, old: str) -> bool:
        return self.update_refs([(RUNS_PREFIX + run_id, "", old)])

    def commit_on_top(
        self,
        run_id: str,
        change: Callable[[str], tuple[Mapping[str, FileContent | None], str] | None],
    ) -> str | None:
        """Add a commit on top of a run's ref, retrying until the compare-and-swap holds.

        ``change(old_commit)`` returns the files that replace or join the old tree and a
        message, or None for "nothing to do".
        """
        self.require_writable()

        def attempt() -> str | Lost | None:
            old = self.run_commit(run_id)
            if old is None:
                raise GitrunsError(f"run {run_id} no longer exists", "run 'gitruns ls'")
            result = change(old)
            if result is None:
                return None
            files, message = result
            merged = self._files_with(old, files)
            new = self._write_commit("annotation", merged, None, [old], message, time.time())
            return new if self.update_ref(run_id, new, old) else LOST

        return compare_and_swap(attempt, f"run {run_id} kept changing while it was being updated")

    def _files_with(
        self, commit: str, files: Mapping[str, FileContent | None]
    ) -> dict[str, FileContent | pygit2.Oid]:
        """The commit's files with ``files`` replaced, added, or (given None) removed."""
        tree = self._tree(commit)
        merged: dict[str, FileContent | pygit2.Oid | None] = dict(self._blob_ids(tree, ""))
        merged.update(files)
        return {p: c for p, c in merged.items() if c is not None}

    def _blob_ids(self, tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, pygit2.Oid]]:
        for entry in tree:
            path = f"{prefix}/{entry.name}" if prefix else str(entry.name)
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                yield from self._blob_ids(self._tree(entry.id), path)
            else:
                yield path, entry.id

    # -- reading runs --------------------------------------------------------------------
    def run_refs(self) -> dict[str, str]:
        """Every ``refs/runs/<id>`` as ``{id: commit}`` (only refs named exactly so: see
        gitruns.format.runrefs)."""
        return self.all_run_refs()[0]

    def remote_run_refs(self) -> dict[str, dict[str, str]]:
        """Fetched runs as ``{remote: {id: commit}}``."""
        return self.all_run_refs()[1]

    def run_commit(self, run_id: str) -> str | None:
        try:
            ref = self.repo.references.get(RUNS_PREFIX + run_id)
        except (ValueError, pygit2.InvalidSpecError):
            return None
        return str(ref.target) if ref is not None else None

    def _regular_file(
        self, commit: str, path: str, max_bytes: int
    ) -> tuple[pygit2.Oid, int] | None:
        """(blob id, size) of a file of a commit's tree, or None when it is absent; refuse
        anything but a regular file (a missing folder, a symlink, a submodule) and blobs
        over ``max_bytes``."""
        entry = self._regular_entry(commit, path)
        if entry is None:
            return None
        size = self._size(entry.id)
        if size > max_bytes:
            raise _over_limit(path, commit, size, max_bytes)
        return entry.id, size

    def _regular_entry(self, commit: str, path: str) -> pygit2.Object | None:
        """The tree entry of a file of a commit, None when it is absent; refuse anything
        but a regular file (a missing folder, a symlink, a submodule)."""
        entry = self._entry(self._tree(commit), path)
        if entry is not None and (entry.type_str != "blob" or entry.filemode not in _REGULAR_MODES):
            raise InvalidRunError(
                f"{path} in commit {commit[:12]} is not a regular file", "remove or repair the run"
            )
        return entry

    def read_file(self, commit: str, path: str, max_bytes: int) -> bytes | None:
        """A file of a commit's tree, or None when it is absent; refuse oversized blobs."""
        found = self._regular_file(commit, path, max_bytes)
        return None if found is None else self._blob_data(found[0])

    def file_blob(self, commit: str, path: str, max_bytes: int) -> str | None:
        """The blob id of a file of a commit's tree, None when it is absent, with the
        checks of ``read_file``; ``blob_data`` reads it (runs share many blobs)."""
        found = self._regular_file(commit, path, max_bytes)
        return None if found is None else str(found[0])

    def blob_data(self, blob: str) -> bytes:
        """The bytes of a blob that ``file_blob`` found."""
        return self._blob_data(blob)

    def regular_blob(self, commit: str, path: str) -> str | None:
        """``file_blob`` without the size check: the blob id of a regular file of a
        commit's tree, None when it is absent. For a reader that remembers what it read
        by blob id (a blob's size is checked once, by ``sized_blob_data``; its mode is a
        tree's, checked here for every tree); read it only with ``sized_blob_data``."""
        entry = self._regular_entry(commit, path)
        if entry is None:
            return None
        blob = str(entry.id)
        self._last_file = (blob, entry)
        return blob

    def sized_blob_data(self, commit: str, path: str, blob: str, max_bytes: int) -> bytes:
        """The bytes of a blob ``regular_blob`` found at ``path`` of ``commit``, refused
        (before it is inflated) when over ``max_bytes``, as ``file_blob`` refuses it."""
        partial = self._promisor != "" and self.promisor_remote() is not None
        if partial and not self.repo.odb.exists(blob):
            self.fetch_missing([blob])
        last = self._last_file
        entry = last[1] if last is not None and last[0] == blob else None
        kind, size = self._header(blob if entry is None else entry.id)
        if size > max_bytes:
            raise _over_limit(path, commit, size, max_bytes)
        if entry is not None and kind == pygit2.GIT_OBJECT_BLOB:
            try:
                return entry.read_raw()
            except (pygit2.GitError, KeyError, ValueError):
                pass  # reported (missing, corrupt) by the path below
        return self._blob_data(blob)

    def stream_file(self, commit: str, path: str, max_bytes: int) -> Iterator[bytes] | None:
        """A file of a commit's tree as chunks of bytes, or None when it is absent.

        Memory stays flat however big the file: a blob over ``STREAM_MIN_BYTES`` is
        inflated a chunk at a time from its loose object file, or read from ``git cat-file
        blob`` with small pack windows when it is packed (libgit2 only reads whole objects);
        smaller ones are read whole, which is faster. Oversized blobs are refused like
        ``read_file``.
        """
        found = self._regular_file(commit, path, max_bytes)
        if found is None:
            return None
        oid, size = found
        if size <= STREAM_MIN_BYTES:
            data = self._blob_data(oid)
            step = STREAM_CHUNK_BYTES
            return (data[i : i + step] for i in range(0, max(len(data), 1), step))
        return self._big_blob(str(oid), size)

    def _big_blob(self, blob: str, size: int) -> Iterator[bytes]:
        try:
            loose = open(self.common_dir / "objects" / blob[:2] / blob[2:], "rb")  # noqa: SIM115
        except OSError:  # packed (or in an alternate object store)
            return self._cat_file(blob)
        return self._checked_loose(blob, loose, size)

    def _checked_loose(self, blob: str, file: BinaryIO, size: int) -> Iterator[bytes]:
        try:
            yield from stream_loose_blob(file, size, STREAM_CHUNK_BYTES)
        except LooseObjectError as exc:
            message = f"git object {blob} is corrupt ({exc})"
            raise InvalidRunError(message, "run 'git fsck'") from exc

    def _cat_file(self, blob: str) -> Iterator[bytes]:
        # git streams a packed blob only past core.bigFileThreshold (512 MiB by default;
        # below it, it inflates the whole blob in memory), and maps packs 1 GiB at a time,
        # every page read staying resident: 435 MiB for a 450 MB blob, 20 MiB with these.
        options = ["-c", "core.bigFileThreshold=1m", "-c", "core.packedGitWindowSize=1m"]
        options += ["-c", "core.packedGitLimit=16m"]
        process = subprocess.Popen(
            ["git", *options, "cat-file", "blob", blob],
            cwd=self.git_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_git_env(),
        )
        assert process.stdout is not None and process.stderr is not None
        try:
            while chunk := process.stdout.read(STREAM_CHUNK_BYTES):
                yield chunk
            error = process.stderr.read().decode("utf-8", errors="replace").strip()
            if process.wait() != 0:
                raise InvalidRunError(f"cannot read blob {blob}: {error}", "run 'git fsck'")
        finally:  # also when the reader stops early (a generator closed half way)
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()

    def iter_files(self, commit: str, folder: str = "") -> Iterator[tuple[str, bytes]]:
        """Every regular file below ``folder`` of a commit's tree."""
        tree = self._tree(commit)
        if folder:
            entry = self._entry(tree, folder)
            if entry is None:
                return
            tree = self._tree(entry.id)
        yield from self._walk(tree, folder)

    def _entry(self, tree: pygit2.Tree, path: str) -> pygit2.Object | None:
        """The entry at ``path`` (through subfolders), None when absent; a folder on the
        way that is missing from the repository raises InvalidRunError."""
        try:
            return tree[path]
        except KeyError:
            return None
        except pygit2.GitError as exc:
            found = re.search(r"[0-9a-f]{40}", str(exc))
            raise _missing(found.group(0) if found else path, exc) from exc

    def _walk(self, tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, bytes]]:
        for entry in tree:
            path = f"{prefix}/{entry.name}" if prefix else str(entry.name)
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                yield from self._walk(self._tree(entry.id), path)
            elif entry.filemode in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                yield path, self._blob_data(entry.id)

    def _object(self, oid: str | pygit2.Oid) -> pygit2.Object:
        try:
            obj = self.repo.get(oid)
            if obj is None and self.fetch_missing([str(oid)]):
                obj = self.repo.get(oid)
        except (pygit2.GitError, KeyError, ValueError) as exc:  # corrupt, or not an id
            raise _missing(oid, exc) from exc
        if obj is None:
            raise _missing(oid, None)
        return obj

    def _size(self, oid: str | pygit2.Oid, *, fetch: bool = True) -> int:
        """A blob's size; in a partial clone, a blob not fetched yet is fetched first, or
        (``fetch=False``) reported as size 0 (its size is checked when it is read)."""
        if self.promisor_remote() is not None and not self.repo.odb.exists(oid):
            if not fetch:
                return 0
            self.fetch_missing([str(oid)])
        return self._header(oid)[1]

    def _header(self, oid: str | pygit2.Oid) -> tuple[int, int]:
        """(object type, size) of an object, read without inflating it."""
        try:
            kind, size = self.repo.odb.read_header(oid)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise _missing(oid, exc) from exc
        return kind, int(size)

    # -- partial clones: objects the clone left on the server are fetched on demand -----
    def promisor_remote(self) -> str | None:
        """The remote a partial clone (``git clone --filter=...``) fetches missing objects
        from, or None for a complete repository."""
        if self._promisor is None:
            config = self.repo.config
            found = _config_get(config, "extensions.partialclone")
            for name in [] if found else self.remote_names():
                if (_config_get(config, f"remote.{name}.promisor") or "").lower() == "true":
                    found = name
                    break
            self._promisor = found or ""
        return self._promisor or None

    def fetch_missing(self, oids: Sequence[str]) -> bool:
        """Fetch objects a partial clone does not have yet, in one ``git fetch`` (what git
        itself does on demand; libgit2 cannot). False when there is nothing to fetch
        from, or the fetch failed (offline): the caller then reports them missing."""
        remote = self.promisor_remote()
        wanted = sorted(set(oids) - self._unfetchable)
        if remote is None or not wanted:
            return False
        options = ["--no-tags", "--no-write-fetch-head", "--recurse-submodules=no"]
        options += ["--filter=blob:none", "--stdin"]
        result = subprocess.run(
            ["git", "-c", "fetch.negotiationAlgorithm=noop", "fetch", remote, *options],
            cwd=self.git_dir,
            input=("\n".join(wanted) + "\n").encode(),
            capture_output=True,
            env=_git_env(),
        )
        if result.returncode != 0:
            self._unfetchable.update(wanted)
            return False
        return True

    def fetch_run_files(self, commits: Sequence[str], paths: Sequence[str]) -> None:
        """In a partial clone: fetch ``paths`` of each run commit in one go (listing runs
        then reads them without a round trip each)."""
        if self.promisor_remote() is None:
            return
        wanted = []
        for commit in commits:
            try:
                tree = self._tree(commit)
                entries = [self._entry(tree, path) for path in paths]
            except InvalidRunError:
                continue  # reported when the run is read
            wanted += [
                str(e.id) for e in entries if e is not None and not self.repo.odb.exists(e.id)
            ]
        self.fetch_missing(wanted)

    def _tree(self, oid: str | pygit2.Oid) -> pygit2.Tree:
        last = self._last_tree
        if last is not None and last[0] == oid:
            return last[1]
        try:
            tree = self._object(oid).peel(pygit2.Tree)
        except (pygit2.GitError, ValueError) as exc:  # a crafted tree names a file as a folder
            raise InvalidRunError(
                f"git object {oid} is not a folder", "remove or repair the run"
            ) from exc
        assert isinstance(tree, pygit2.Tree)
        self._last_tree = (oid, tree)
        return tree

    def _blob_data(self, oid: str | pygit2.Oid) -> bytes:
        # The object database's bytes, with no Blob object made (about a third less per
        # blob: a cold cache build reads four a run); anything odd takes the path below.
        try:
            kind, data = self.repo.odb.read(oid)
        except (pygit2.GitError, KeyError, ValueError):
            kind = None
        if kind == pygit2.GIT_OBJECT_BLOB:
            return bytes(data)
        blob = self._object(oid)
        if not isinstance(blob, pygit2.Blob):
            raise InvalidRunError(f"git object {oid} is not a file", "remove or repair the run")
        return blob.data

    def commit_info(self, commit: str) -> tuple[list[str], str, str, float]:
        """Parents, author "name <email>", message and time of a commit."""
        obj = self._object(commit).peel(pygit2.Commit)
        author = f"{obj.author.name} <{obj.author.email}>"
        return [str(p) for p in obj.parent_ids], author, obj.message, float(obj.commit_time)

    # -- any ref, and the git CLI (annotations, trash, gc) ---------------------------------
    def refs_under(self, *prefixes: str) -> dict[str, str]:
        """Every ref whose full name starts with one of ``prefixes``, as ``{name: commit}``,
        in one pass (each pass reads every loose ref file: with 10,000 unpacked runs that is
        most of a query). The one ref listing of gitruns."""
        return {
            name: str(target)
            for name, target in self._listed_refs()
            if name.startswith(prefixes) and isinstance(target, pygit2.Oid)
        }

    def _listed_refs(self) -> list[tuple[str, Any]]:
        """``(name, target)`` of every ref, listed again when ``packed-refs`` changed while
        it was read: ``git pack-refs`` (a user's gc, or the background compaction) renames
        the new file in before deleting the loose refs it took, so a listing that read the
        old file and then found those loose refs gone would miss them (a run just created
        then looked not there). Seen from here, such a listing always spans a change of
        the file; after a few changed listings the last one is taken."""
        packed = self.common_dir / "packed-refs"
        for _ in range(5):
            before = _stat_key(packed)
            listed = [(ref.name, ref.target) for ref in self.repo.references.iterator()]
            if _stat_key(packed) == before:
                break
        return listed

    def ref_commit(self, name: str) -> str | None:
        """The commit a full ref name points at, or None."""
        try:
            ref = self.repo.references.get(name)
        except (ValueError, pygit2.InvalidSpecError):
            return None
        return str(ref.target) if ref is not None else None

    def move_ref(
        self,
        old_name: str,
        old_commit: str,
        new_name: str,
        new_commit: str,
        replacing: str | None = None,
    ) -> bool:
        """In one transaction: create ``new_name`` at ``new_commit`` (or move it there from
        ``replacing``) and delete ``old_name`` if it still points at ``old_commit``. False,
        and nothing changed, when either ref is not as expected."""
        if replacing:
            create = f"update {new_name} {new_commit} {replacing}"
        else:
            create = f"create {new_name} {new_commit}"
        commands = f"{create}\ndelete {old_name} {old_commit}\n"
        result = self._git_cli("update-ref", "--stdin", stdin=commands.encode())
        if result.returncode != 0:
            moved = self.ref_commit(old_name) != old_commit
            moved = moved or self.ref_commit(new_name) != replacing
            _raise_if_refused(result.stderr, moved, lambda: self._released(None, new_commit))
        return self._released(result.returncode == 0, new_commit)

    def delete_named_ref(self, name: str, old_commit: str) -> bool:
        """Delete ``name`` if it still points at ``old_commit``."""
        return self.update_refs([(name, "", old_commit)])

    def commit_same_tree(self, parent: str, message: str) -> str:
        """A commit on top of ``parent`` with the same tree (a marker such as a deletion)."""
        parent_commit = self.repo.get(parent)
        if parent_commit is None:
            raise GitrunsError(f"commit {parent} is missing", "check the repository with git fsck")
        tree = parent_commit.peel(pygit2.Tree)
        return self._write_commit("marker", None, str(tree.id), [parent], message, time.time())

    def config_value(self, key: str) -> str | None:
        """A git config value (repository, global and system levels), or None."""
        return _config_get(self.repo.config, key)

    def config_entries(self, prefix: str) -> dict[str, str]:
        """Every git config entry whose name starts with ``prefix`` (case-insensitively),
        as git reports its name (section and variable lower case, subsection as written);
        the most specific level wins."""
        wanted = prefix.lower()
        found: dict[str, tuple[int, str]] = {}
        for entry in self.repo.config:
            if not entry.name.lower().startswith(wanted) or entry.value is None:
                continue
            level = int(entry.level)  # higher is more specific: local over global
            if entry.name not in found or level >= found[entry.name][0]:
                found[entry.name] = (level, str(entry.value))
        return {name: value for name, (_level, value) in found.items()}

    def git(self, *args: str) -> str:
        """Run the git CLI on this repository and return its stdout; GitrunsError on failure."""
        return self._git_checked(*args).decode("utf-8", errors="replace")

    def _git_cli(
        self, *args: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """The one way gitruns runs the git CLI on this repository (user config isolated as
        ``_git_env`` says; the caller reads the exit status)."""
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            cwd=self.git_dir,
            input=stdin,
            capture_output=True,
            env=_git_env(),
        )

    def _git_checked(self, *args: str, stdin: bytes | None = None) -> bytes:
        result = self._git_cli(*args, stdin=stdin)
        if result.returncode != 0:
            error = result.stderr.decode("utf-8", errors="replace").strip()
            raise GitrunsError(f"git {args[0]} failed: {error}", "check the repository with git")
        return result.stdout

    # -- sharing: merge bases, tree checks, merges, reachability ---------------------------
    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None when they share none."""
        base = self.repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return str(base) if base is not None else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is ``descendant`` or one of its ancestors."""
        if ancestor == descendant:
            return True
        return bool(self.repo.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))

    def has_commit(self, commit: str) -> bool:
        try:
            obj = self.repo.get(commit)
        except (ValueError, pygit2.GitError):
            return False
        return obj is not None and obj.type == pygit2.enums.ObjectType.COMMIT

    def tree_entries(
        self, commit: str, memo: dict[str, list[tuple[bytes, int, int, str]]] | None = None
    ) -> Iterator[tuple[bytes, int, int]]:
        """Every entry below a commit's tree, depth first: raw path, file mode, blob size.

        Untrusted input: names are returned as raw bytes (they may be anything a crafted
        tree holds), and trees, links and submodules report size 0 without being followed.
        ``memo`` (shared by the checks of many runs, as a fetch does) keeps each folder's
        listing by its id: folders that runs share (``env/``) are read once.
        """
        stack: list[tuple[bytes, str]] = [(b"", str(self._tree(commit).id))]
        while stack:
            prefix, tree = stack.pop()
            for name, mode, size, oid in self._listing(tree, memo):
                path = prefix + name
                yield path, mode, size
                if mode == _MODE_TREE:
                    stack.append((path + b"/", oid))

    def _listing(
        self, tree: str, memo: dict[str, list[tuple[bytes, int, int, str]]] | None
    ) -> list[tuple[bytes, int, int, str]]:
        found = memo.get(tree) if memo is not None else None
        if found is None:
            found = []
            for name, mode, oid in self._raw_entries(tree):
                size = self._size(oid, fetch=False) if mode in _MODE_BLOBS else 0
                found.append((name, mode, size, oid))
            if memo is not None:
                memo[tree] = found
        return found

    def _raw_entries(self, tree: str) -> Iterator[tuple[bytes, int, str]]:
        """(raw name, mode as written, hex id) of a folder's entries, as git and the bulk
        check (``runs/treecheck.py``) read them: libgit2 reads the modes 100664 and 644 as
        a regular file (git reads 644 as a submodule, ``fsck --strict`` refuses 100664) and
        peels a commit named as a folder to its tree; here only a tree object is a folder,
        an odd mode stays what it is (and fails the checks), and a zero-padded one
        (``0100644``, ``0``), which ``fsck --strict`` calls broken, makes the folder so."""
        try:
            kind, data = self.repo.odb.read(tree)
        except (pygit2.GitError, KeyError, ValueError):
            self._tree(tree)  # missing (fetched in a partial clone) or unreadable: its error
            try:
                kind, data = self.repo.odb.read(tree)
            except (pygit2.GitError, KeyError, ValueError) as exc:
                raise _not_a_folder(tree) from exc
        parts = _raw_tree_entry(len(tree) // 2).split(data)
        modes = parts[1::4]
        if kind != pygit2.GIT_OBJECT_TREE or any(parts[::4]):  # not a tree, or malformed
            raise _not_a_folder(tree)
        if not _GIT_MODES.issuperset(modes) and any(mode[:1] == b"0" for mode in modes):
            raise _not_a_folder(tree)  # zero-padded: fsck --strict calls the tree broken
        if not names_as_git_writes(modes, parts[2::4]):
            raise _not_a_folder(tree)  # unsorted, or a name twice: broken too
        return zip(parts[2::4], map(_octal, modes), map(bytes.hex, parts[3::4]), strict=True)

    def commit_merge(
        self, ours: str, theirs: str, files: Mapping[str, FileContent | None], message: str
    ) -> str:
        """A merge commit (parents ``ours``, ``theirs``) of ``ours``'s tree with ``files``
        replaced, added or (given None) removed. No ref moves."""
        merged = self._files_with(ours, files)
        return self._write_commit("merge", merged, None, [ours, theirs], message, time.time())

    def code_parent(self, tip: str, trailer: str) -> str | None:
        """The code commit under a run: the first parent of its run commit (``run_root``)."""
        commit = self.repo[self.run_root(tip, trailer)].peel(pygit2.Commit)
        return str(commit.parent_ids[0]) if commit.parent_ids else None

    def run_root(self, tip: str, trailer: str) -> str:
        """The commit that recorded a run: follow first parents from ``tip`` past commits
        whose message holds ``trailer`` (annotations, merges)."""
        commit = self.repo[tip].peel(pygit2.Commit)
        for _ in range(100_000):
            if trailer not in commit.message or not commit.parent_ids:
                break
            commit = self.repo[commit.parent_ids[0]].peel(pygit2.Commit)
        return str(commit.id)

    def unreachable(self, commits: set[str], tips: set[str]) -> set[str]:
        """Those of ``commits`` that no commit of ``tips`` reaches (git rev-list --not)."""
        if not commits:
            return set()
        lines = [*sorted(commits), *(f"^{tip}" for tip in sorted(tips))]
        listed = self._git_checked("rev-list", "--stdin", stdin=("\n".join(lines) + "\n").encode())
        return commits & set(listed.decode().split())

    def file_ids(self, commit: str) -> dict[str, str]:
        """Every file of a commit's tree as ``{path: blob id}``."""
        tree = self.repo[commit].peel(pygit2.Tree)
        return {path: str(oid) for path, oid in self._blob_ids(tree, "")}

    def remote_names(self) -> list[str]:
        return [str(name) for name in self.repo.remotes.names() if name]

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]]) -> bool:
        """Apply ``(name, new, old)`` updates in one transaction; ``old`` None: any value,
        ``new`` "" deletes. False (nothing changed) when any old value no longer holds."""
        if not updates:
            return True
        lines = []
        for name, new, old in updates:
            if new:
                lines.append(f"update {name} {new} {old or ''}".rstrip())
            else:
                lines.append(f"delete {name} {old or ''}".rstrip())
        commands = ("\n".join(lines) + "\n").encode()
        result = self._git_cli("update-ref", "--stdin", stdin=commands)
        return self._released(result.returncode == 0, *(new for _, new, _ in updates if new))

    def resolve_commit(self, revision: str) -> str | None:
        """The commit a branch, tag, id prefix or expression (``HEAD~2``) names, or None."""
        try:
            obj = self.repo.revparse_single(revision)
            return str(obj.peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def all_run_refs(
        self,
    ) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
        """``run_refs()``, ``remote_run_refs()`` and the refs under their prefixes that are
        not run refs (``{name: commit}``), in one pass over the refs (each pass reads every
        loose ref file: with 10,000 unpacked runs that is most of a query)."""
        local: dict[str, str] = {}
        remote: dict[str, dict[str, str]] = {}
        odd: dict[str, str] = {}
        local_run = _LOCAL_RUN_REF.fullmatch
        oid = pygit2.Oid
        for name, target in self._listed_refs():
            found = local_run(name)
            if found is not None and type(target) is oid:  # most refs: one match, not five
                local[found[1]] = str(target)
                continue
            if not name.startswith((RUNS_PREFIX, REMOTE_RUNS_PREFIX)):
                continue
            if not isinstance(target, pygit2.Oid):
                continue  # a symbolic ref: nothing a run would be
            parsed = parse_run_ref(name)
            if parsed is None:
                odd[name] = str(target)
            elif parsed[0] == LOCAL:
                local[parsed[1]] = str(target)
            else:
                remote.setdefault(parsed[0], {})[parsed[1]] = str(target)
        return local, remote, odd


# ``refs/runs/<run id>``, read by one match: what ``parse_run_ref`` reads as a local run.
_LOCAL_RUN_REF = re.compile(re.escape(RUNS_PREFIX) + f"({RUN_ID_PATTERN.pattern.strip('^$')})")


def _stat_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class Lost:
    """What an attempt of ``compare_and_swap`` returns when a ref moved under it."""


LOST = Lost()


def compare_and_swap(attempt: Callable[[], _T | Lost], what: str) -> _T:
    """Run ``attempt`` until its compare-and-swap ref update holds, backing off with jitter
    between tries; ConcurrentUpdateError (saying ``what``) after 50 lost races. The one retry
    loop for every audited change of a run's ref (annotations, deletion, restore)."""
    for n in range(50):
        result = attempt()
        if not isinstance(result, Lost):
            return result
        time.sleep(random.uniform(0.005, 0.05) * (1 + n / 5))
    raise ConcurrentUpdateError(what, "try again")


def _raise_if_refused(stderr: bytes, moved: bool, cleanup: Callable[[], object]) -> None:
    """A failed ref update is retried when another process moved the ref or holds its
    lock; any other failure (a hook said no, a read-only repository) would fail the same
    way every time, so it is reported at once, in git's words."""
    text = stderr.decode("utf-8", errors="replace").strip()
    if moved or "File exists" in text:
        return
    cleanup()
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in text.splitlines()]
    detail = "; ".join(dict.fromkeys(line for line in lines if line)) or "no reason given"
    if "reference-transaction" in text or "aborted by hook" in text:
        hint = "the repository's reference-transaction hook refused it: check that hook"
    elif "Read-only file system" in text or "Permission denied" in text:
        hint = "the repository is read-only for you: use a clone you can write"
    else:
        hint = "check the repository with 'git fsck' and its hooks"
    raise GitrunsError(f"git refused to update the run's ref: {detail}", hint)


_REGULAR_MODES = (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE)


_GIT_MODES = frozenset((b"40000", b"100644", b"100755", b"120000", b"160000"))  # as git writes
_octal = functools.partial(int, base=8)


def _not_a_folder(oid: str) -> InvalidRunError:
    return InvalidRunError(f"git object {oid} is not a folder", "remove or repair the run")


@functools.lru_cache(maxsize=2)
def _raw_tree_entry(id_bytes: int) -> re.Pattern[bytes]:
    """One entry of a raw tree object: mode digits, name, raw id (``_raw_entries``)."""
    return re.compile(rb"([0-7]+) ([^\0]*)\0(.{%d})" % id_bytes, re.S)


def _over_limit(path: str, commit: str, size: int, max_bytes: int) -> InvalidRunError:
    return InvalidRunError(
        f"{path} in commit {commit[:12]} is {size} bytes, over the {max_bytes} limit",
        "the run is not valid; remove or repair it",
    )


def _missing(oid: object, error: Exception | None) -> InvalidRunError:
    """A run whose objects are absent: damaged, pruned, or a partial clone's (libgit2
    cannot fetch the objects a ``--filter=blob:none`` clone left on the server)."""
    text = str(error).strip("'\"") if error is not None else ""
    detail = f" ({text})" if text and text != str(oid) else ""
    return InvalidRunError(
        f"git object {oid} is missing{detail}",
        "the repository is incomplete: run 'git fsck'; in a partial clone, fetch the run's"
        " objects with 'git fetch --refetch' or clone without --filter",
    )


# Kept under its old name: docs and comments refer to storage._create_loose_ref.
_create_loose_ref = create_loose_ref


def _retry_locked(action: Callable[[], _T]) -> _T:
    """libgit2 fails at once on a held lock file; git would wait. Retry with jitter."""
    return runwrite.retry_locked(action, (pygit2.GitError, RefLockedError))


def limit_mapped_packs(limit_bytes: int) -> int:
    """Cap how much of the pack files libgit2 keeps mapped in this process (8 GiB by
    default on 64-bit): reading every run of a 175 MB pack otherwise keeps all of it
    resident. For processes that read many runs (cache build workers). Returns the cap
    it replaced.

    Windows are cut to a quarter of the cap: libgit2 maps a pack in windows of 1 GiB, so
    under a smaller cap it unmapped and mapped the whole pack again around every object
    read once the pack outgrew the cap (two mmap calls and fresh page faults per object
    at 100,000 runs: about a quarter of a build's CPU). A cap of the default size
    restores the default window."""
    previous = int(pygit2.settings.mwindow_mapped_limit)
    if not _DEFAULT_MWINDOW:
        _DEFAULT_MWINDOW.append(int(pygit2.settings.mwindow_size))
    pygit2.settings.mwindow_mapped_limit = limit_bytes
    pygit2.settings.mwindow_size = min(_DEFAULT_MWINDOW[0], max(limit_bytes // 4, 1 << 20))
    return previous


def limit_object_cache(limit_bytes: int) -> int:
    """Cap libgit2's cache of parsed commits and trees (256 MiB by default, across all
    repositories of the process): a process reading 50,000 runs once each would otherwise
    grow by about 80 MiB keeping objects it never reads again. For cache build workers.
    Returns the cap it replaced."""
    previous = int(pygit2.settings.cached_memory[1])
    pygit2.settings.cache_max_size(limit_bytes)
    return previous


def verify_object_hashes(enabled: bool) -> None:
    """Whether libgit2 hashes every object it reads again to check its id (its default,
    on). The git CLI does not: ids are checked when objects arrive (``index-pack``
    hashes every object of a fetch) or are written, and zlib checks each object's bytes
    as they are inflated. A cold cache build reads every run's commit, tree and four
    blobs once, and the SHA-1 (with collision detection) was about 4% of it."""
    pygit2.settings.enable_strict_hash_verification(enabled)


def git_dir_at(start: str) -> str | None:
    """The git folder ``Store(start)`` opens, or None outside a repository."""
    return pygit2.discover_repository(start)


def _common_dir(git_dir: Path) -> Path:
    """Linked worktrees keep shared state in the main repository's git dir."""
    commondir_file = git_dir / "commondir"
    if commondir_file.exists():
        return (git_dir / commondir_file.read_text().strip()).resolve()
    return git_dir


def _unsupported_repository(gitdir: str, exc: Exception) -> RepositoryError:
    text = str(exc)
    if "sha256" in text or "object format" in text:
        return RepositoryError(
            f"{gitdir} uses SHA-256 object ids, which gitruns (through libgit2) cannot read",
            "use gitruns in a SHA-1 repository",
        )
    if "refstorage" in text or "reftable" in text:
        return RepositoryError(
            f"{gitdir} stores refs in reftable format, which gitruns (through libgit2) cannot read",
            "use the default 'files' ref storage (git refs migrate --ref-format=files)",
        )
    return RepositoryError(
        f"cannot open the repository at {gitdir}: {text}", "check it with 'git status'"
    )


def _config_get(config: pygit2.Config, key: str) -> str | None:
    try:
        value = config[key]
    except (KeyError, pygit2.GitError):
        return None
    return str(value) if value else None


def _file_mode(info: os.stat_result) -> int:
    if stat.S_ISLNK(info.st_mode):
        return pygit2.GIT_FILEMODE_LINK
    if info.st_mode & stat.S_IXUSR:
        return pygit2.GIT_FILEMODE_BLOB_EXECUTABLE
    return pygit2.GIT_FILEMODE_BLOB


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def _snapshot_objects(
    repo: pygit2.Repository, tree_id: pygit2.Oid, changes: Mapping[str, int]
) -> Iterator[pygit2.Oid]:
    """The snapshot's root tree, and each changed path's blob and the folders above it."""
    root = repo[tree_id].peel(pygit2.Tree)
    yield root.id
    for path in changes:
        tree = root
        *folders, leaf = path.split("/")
        for folder in folders:
            try:
                entry = tree[folder]
            except KeyError:
                break
            if entry.filemode != pygit2.GIT_FILEMODE_TREE:
                break
            yield entry.id
            tree = repo[entry.id].peel(pygit2.Tree)
        else:
            try:
                entry = tree[leaf]
            except KeyError:
                continue
            if entry.filemode != pygit2.GIT_FILEMODE_COMMIT:
                yield entry.id


def _submodule_head(path: Path) -> pygit2.Oid | None:
    """The commit a submodule's HEAD is at, or None (not a submodule, or no commit yet)."""
    if not (path / ".git").exists():
        return None
    try:
        sub = pygit2.Repository(str(path))
        if sub.head_is_unborn:
            return None
        return sub.head.target if isinstance(sub.head.target, pygit2.Oid) else None
    except (pygit2.GitError, KeyError, ValueError):
        return None


def _existing_blob(content: object) -> str | None:
    """A blob already in the repository, as a tree of ``runwrite.write_tree`` takes it."""
    return str(content) if isinstance(content, pygit2.Oid) else None


def _alternates(objects_dir: Path) -> list[Path]:
    """Object folders borrowed through ``objects/info/alternates``."""
    try:
        lines = (objects_dir / "info" / "alternates").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            found.append((objects_dir / line).resolve())
    return found
