"""The one module that talks to pygit2: repositories, objects, trees, commits and refs.

Everything above this module deals in run ids, paths and bytes; nothing else imports
pygit2. Transport (push/fetch) is deliberately not here: it goes through the git CLI.
"""

from __future__ import annotations

import getpass
import os
import random
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import pygit2

from gitruns.errors import (
    ConcurrentUpdateError,
    GitrunsError,
    InvalidRunError,
    RepositoryError,
    StorageWriteError,
)
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.format.loose_objects import LooseObjectError, stream_loose_blob
from gitruns.format.runrefs import LOCAL, parse_run_ref

SMALL_FILE_BYTES = 1 << 20
STREAM_MIN_BYTES = 4 << 20  # blobs bigger than this are streamed, never read whole
STREAM_CHUNK_BYTES = 256 << 10
MAX_UNTRACKED_BYTES = 10 << 20  # an untracked entry-point script put in the code snapshot
_T = TypeVar("_T")

# A file of the run tree is either its bytes or a file on disk to stream into a blob.
FileContent = bytes | Path


@dataclass(frozen=True)
class CodeState:
    """Where the code stood when a run started."""

    commit: str | None  # what the run commit's first parent is: HEAD or a snapshot of it
    head: str | None
    branch: str | None
    remote_url: str | None
    dirty: bool
    patch: bytes | None  # uncommitted changes against HEAD, when dirty


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

    # -- identity and code ---------------------------------------------------------------
    def identity(self) -> Identity:
        """The git identity, honouring GIT_AUTHOR_* as the git CLI does."""
        config = self.repo.config
        name = os.environ.get("GIT_AUTHOR_NAME") or _config_get(config, "user.name")
        email = os.environ.get("GIT_AUTHOR_EMAIL") or _config_get(config, "user.email")
        os_user = _os_user()
        host = socket.gethostname()
        return Identity(name or os_user, email or f"{os_user}@{host}", os_user, host)

    def code_state(self, run_id: str, include_untracked: Iterable[Path] = ()) -> CodeState:
        """HEAD, branch, remote and dirty state; a snapshot commit when the tree is dirty.

        The snapshot is made like ``git stash create``: from a private copy of the index,
        so HEAD, the index file and the worktree are never touched. Untracked files are
        left out, except those of ``include_untracked`` (the script that runs) that git
        does not ignore.
        """
        repo = self.repo
        if repo.head_is_unborn:
            return CodeState(None, None, self._branch_name(), None, False, None)
        head = repo.head.peel(pygit2.Commit)
        branch = self._branch_name()
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
        tree_id = self._snapshot_tree(changes)
        snapshot = repo.create_commit(
            None,
            self._signature(),
            self._signature(),
            f"gitruns: uncommitted changes for run {run_id}\n",
            tree_id,
            [head.id],
        )
        diff = head.tree.diff_to_tree(self._object(tree_id).peel(pygit2.Tree))
        patch = (diff.patch or "").encode("utf-8", errors="surrogateescape")
        return CodeState(str(snapshot), str(head.id), branch, remote_url, True, patch)

    def _untracked(self, paths: Iterable[Path]) -> dict[str, int]:
        """Those of ``paths`` that are untracked, unignored regular files in the worktree,
        as worktree-relative paths (at most ``MAX_UNTRACKED_BYTES`` each)."""
        assert self.workdir is not None
        root = self.workdir.resolve()
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

    def _snapshot_tree(self, changes: Mapping[str, int]) -> pygit2.Oid:
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
            oid = self.repo.create_blob_fromworkdir(path)
            index.add(pygit2.IndexEntry(path, oid, pygit2.enums.FileMode(_file_mode(info))))
        return index.write_tree(self.repo)

    def _branch_name(self) -> str | None:
        if self.repo.head_is_detached:
            return None
        target = self.repo.references["HEAD"].target
        name = target if isinstance(target, str) else None
        return name.removeprefix("refs/heads/") if name else None

    def _remote_url(self, branch: str | None) -> str | None:
        config = self.repo.config
        remote = _config_get(config, f"branch.{branch}.remote") if branch else None
        for name in (remote, "origin"):
            if name:
                url = _config_get(config, f"remote.{name}.url")
                if url:
                    return _strip_credentials(url)
        return None

    def _signature(self, when: float | None = None) -> pygit2.Signature:
        ident = self.identity()
        if when is None:
            return pygit2.Signature(ident.name, ident.email)
        offset = int((time.localtime(when).tm_gmtoff or 0) / 60)
        return pygit2.Signature(ident.name, ident.email, int(when), offset)

    # -- writing runs --------------------------------------------------------------------
    def write_tree(self, files: Mapping[str, FileContent | pygit2.Oid]) -> pygit2.Oid:
        """Build a tree from ``{"a/b.txt": bytes-or-path}``, folders bottom-up."""
        root: dict[str, object] = {}
        for path, content in files.items():
            node = root
            *folders, leaf = path.split("/")
            for folder in folders:
                node = node.setdefault(folder, {})  # type: ignore[assignment]
            node[leaf] = content
        return self._write_folder(root)

    def _write_folder(self, folder: Mapping[str, object]) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        for name, content in folder.items():
            if isinstance(content, dict):
                builder.insert(name, self._write_folder(content), pygit2.GIT_FILEMODE_TREE)
            elif isinstance(content, pygit2.Oid):
                builder.insert(name, content, pygit2.GIT_FILEMODE_BLOB)
            elif isinstance(content, Path):
                oid = self._blob_from_file(content)
                builder.insert(name, oid, pygit2.GIT_FILEMODE_BLOB)
            else:
                oid = self.repo.create_blob(content)  # type: ignore[arg-type]
                builder.insert(name, oid, pygit2.GIT_FILEMODE_BLOB)
        return builder.write()

    def _blob_from_file(self, path: Path) -> pygit2.Oid:
        # Small files are cheaper read whole; large ones stream (memory stays flat).
        if path.stat().st_size <= SMALL_FILE_BYTES:
            return self.repo.create_blob(path.read_bytes())
        return self.repo.create_blob_fromdisk(str(path))

    def create_run_commit(
        self,
        files: Mapping[str, FileContent],
        parents: list[str],
        message: str,
        when: float,
    ) -> str:
        try:
            tree = self.write_tree(files)
            sig = self._signature(when)
            oid = self.repo.create_commit(
                None, sig, sig, message, tree, [pygit2.Oid(hex=p) for p in parents]
            )
        except pygit2.GitError as exc:
            # libgit2 reports a full disk with whatever message it held last ("reference
            # ... not found"): any failure to write objects is a write error, and the run
            # stays staged for the next gitruns command to finalise.
            raise StorageWriteError(
                f"cannot write the run's objects into {self.common_dir / 'objects'} ({exc})",
                "free disk space (or fix the permissions); the run stays staged and the next"
                " gitruns command finalises it with everything on disk",
            ) from exc
        return str(oid)

    def create_ref(self, run_id: str, commit: str) -> bool:
        """Point ``refs/runs/<id>`` at ``commit``; False when the ref already exists.

        Only the holder of the run's owner lock creates its ref (the owner, or recovery
        once the owner died), so a lock file for a ref that does not exist yet was left by
        a process killed while creating it, and is removed rather than waited on.
        """
        name = RUNS_PREFIX + run_id

        def create() -> bool:
            if name in self.repo.references:
                return False
            (self.common_dir / (name + ".lock")).unlink(missing_ok=True)
            self.repo.references.create(name, pygit2.Oid(hex=commit), force=False)
            return True

        return _retry_locked(create)

    def update_ref(self, run_id: str, new: str, old: str) -> bool:
        """Compare-and-swap the run's ref from ``old`` to ``new``; False if it moved."""
        return self.update_refs([(RUNS_PREFIX + run_id, new, old)])

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

        def attempt() -> str | Lost | None:
            old = self.run_commit(run_id)
            if old is None:
                raise GitrunsError(f"run {run_id} no longer exists", "run 'gitruns ls'")
            result = change(old)
            if result is None:
                return None
            files, message = result
            tree = self._tree_with(old, files)
            sig = self._signature(time.time())
            new = str(self.repo.create_commit(None, sig, sig, message, tree, [pygit2.Oid(hex=old)]))
            return new if self.update_ref(run_id, new, old) else LOST

        return compare_and_swap(attempt, f"run {run_id} kept changing while it was being updated")

    def _tree_with(self, commit: str, files: Mapping[str, FileContent | None]) -> pygit2.Oid:
        """The commit's tree with ``files`` replaced, added, or (given None) removed."""
        tree = self._tree(commit)
        merged: dict[str, FileContent | pygit2.Oid | None] = dict(self._blob_ids(tree, ""))
        merged.update(files)
        return self.write_tree({p: c for p, c in merged.items() if c is not None})

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

    def read_file(self, commit: str, path: str, max_bytes: int) -> bytes | None:
        """A file of a commit's tree, or None when it is absent; refuse oversized blobs."""
        tree = self._tree(commit)
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.type_str != "blob" or entry.filemode not in (
            pygit2.GIT_FILEMODE_BLOB,
            pygit2.GIT_FILEMODE_BLOB_EXECUTABLE,
        ):
            raise InvalidRunError(
                f"{path} in commit {commit[:12]} is not a regular file", "remove or repair the run"
            )
        _kind, size = self.repo.odb.read_header(entry.id)
        if size > max_bytes:
            raise InvalidRunError(
                f"{path} in commit {commit[:12]} is {size} bytes, over the {max_bytes} limit",
                "the run is not valid; remove or repair it",
            )
        return self._blob_data(entry.id)

    def stream_file(self, commit: str, path: str, max_bytes: int) -> Iterator[bytes] | None:
        """A file of a commit's tree as chunks of bytes, or None when it is absent.

        Memory stays flat however big the file: a blob over ``STREAM_MIN_BYTES`` is
        inflated a chunk at a time from its loose object file, or read from ``git cat-file
        blob`` with small pack windows when it is packed (libgit2 only reads whole objects);
        smaller ones are read whole, which is faster. Oversized blobs are refused like
        ``read_file``.
        """
        tree = self._tree(commit)
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.filemode not in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
            raise InvalidRunError(
                f"{path} in commit {commit[:12]} is not a regular file", "remove or repair the run"
            )
        _kind, size = self.repo.odb.read_header(entry.id)
        if size > max_bytes:
            raise InvalidRunError(
                f"{path} in commit {commit[:12]} is {size} bytes, over the {max_bytes} limit",
                "the run is not valid; remove or repair it",
            )
        if size <= STREAM_MIN_BYTES:
            data = self._blob_data(entry.id)
            step = STREAM_CHUNK_BYTES
            return (data[i : i + step] for i in range(0, max(len(data), 1), step))
        return self._big_blob(str(entry.id), size)

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
            try:
                tree = self._tree(tree[folder].id)
            except KeyError:
                return
        yield from self._walk(tree, folder)

    def _walk(self, tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, bytes]]:
        for entry in tree:
            path = f"{prefix}/{entry.name}" if prefix else str(entry.name)
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                yield from self._walk(self._tree(entry.id), path)
            elif entry.filemode in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                yield path, self._blob_data(entry.id)

    def _object(self, oid: str | pygit2.Oid) -> pygit2.Object:
        obj = self.repo.get(oid)
        if obj is None:
            raise InvalidRunError(
                f"git object {oid} is missing", "the repository is incomplete: run 'git fsck'"
            )
        return obj

    def _tree(self, oid: str | pygit2.Oid) -> pygit2.Tree:
        tree = self._object(oid).peel(pygit2.Tree)
        assert isinstance(tree, pygit2.Tree)
        return tree

    def _blob_data(self, oid: str | pygit2.Oid) -> bytes:
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
        found: dict[str, str] = {}
        for ref in self.repo.references.iterator():
            target = ref.target
            if ref.name.startswith(prefixes) and isinstance(target, pygit2.Oid):
                found[ref.name] = str(target)
        return found

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
        return self._git_cli("update-ref", "--stdin", stdin=commands.encode()).returncode == 0

    def delete_named_ref(self, name: str, old_commit: str) -> bool:
        """Delete ``name`` if it still points at ``old_commit``."""
        return self.update_refs([(name, "", old_commit)])

    def commit_same_tree(self, parent: str, message: str) -> str:
        """A commit on top of ``parent`` with the same tree (a marker such as a deletion)."""
        parent_commit = self.repo.get(parent)
        if parent_commit is None:
            raise GitrunsError(f"commit {parent} is missing", "check the repository with git fsck")
        tree = parent_commit.peel(pygit2.Tree)
        sig = self._signature(time.time())
        oid = self.repo.create_commit(None, sig, sig, message, tree.id, [pygit2.Oid(hex=parent)])
        return str(oid)

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

    def tree_entries(self, commit: str) -> Iterator[tuple[bytes, int, int]]:
        """Every entry below a commit's tree, depth first: raw path, file mode, blob size.

        Untrusted input: names are returned as raw bytes (they may be anything a crafted
        tree holds), and trees, links and submodules report size 0 without being followed.
        """
        stack: list[tuple[bytes, pygit2.Tree]] = [(b"", self.repo[commit].peel(pygit2.Tree))]
        while stack:
            prefix, tree = stack.pop()
            for entry in tree:
                path = prefix + (entry.raw_name or b"")
                mode = entry.filemode
                if mode == pygit2.GIT_FILEMODE_TREE:
                    yield path, mode, 0
                    stack.append((path + b"/", self.repo[entry.id].peel(pygit2.Tree)))
                elif mode in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                    _kind, size = self.repo.odb.read_header(entry.id)
                    yield path, mode, size
                else:
                    yield path, mode, 0

    def commit_merge(
        self, ours: str, theirs: str, files: Mapping[str, FileContent | None], message: str
    ) -> str:
        """A merge commit (parents ``ours``, ``theirs``) of ``ours``'s tree with ``files``
        replaced, added or (given None) removed. No ref moves."""
        tree = self._tree_with(ours, files)
        sig = self._signature(time.time())
        parents = [pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs)]
        return str(self.repo.create_commit(None, sig, sig, message, tree, parents))

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
        return self._git_cli("update-ref", "--stdin", stdin=commands).returncode == 0

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
        for ref in self.repo.references.iterator():
            name, target = ref.name, ref.target
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


def _retry_locked(action: Callable[[], _T]) -> _T:
    """libgit2 fails at once on a held lock file; git would wait. Retry with jitter."""
    for attempt in range(40):
        try:
            return action()
        except pygit2.GitError as exc:
            if "lock" not in str(exc).lower() or attempt == 39:
                raise
            time.sleep(random.uniform(0.002, 0.02) * (1 + attempt / 4))
    raise AssertionError("unreachable")


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


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _strip_credentials(url: str) -> str:
    """Drop credentials embedded in a remote URL before it is recorded.

    An http(s) URL loses its whole user part: hosts take a token as the user name
    (``https://ghp_...@github.com/o/r.git``) as readily as a password. Other schemes
    (``ssh://git@host``) keep the user name and lose only a password.
    """
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    userinfo, host = authority.rsplit("@", 1)
    if scheme.lower() in ("http", "https", "ftp", "ftps"):
        return f"{scheme}://{host}{slash}{path}"
    if ":" in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}{slash}{path}"
    return url


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
