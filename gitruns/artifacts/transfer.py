"""Downloads and uploads of run artifacts: deduplicated by sha256, parallel, resumable, each
object checked against its sha256 before it is used.

``get``: the objects not here are fetched (git-lfs, or an object store) into the local store,
then copied where asked, hashing as they are copied. ``push``: the objects of the runs go to
the git remote's LFS endpoint or an object store; what the other side has is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gitruns.artifacts import lfs
from gitruns.artifacts.objectstore import ObjectStore
from gitruns.artifacts.remotes import Destination
from gitruns.errors import ArtifactError, InvalidInputError
from gitruns.format.validation import check_artifact_path
from gitruns.recording.artifacts import ArtifactFile, ArtifactStore, artifact_files, artifact_store
from gitruns.runs.model import Run
from gitruns.sharing.gitcli import Echo
from gitruns.storage import Store

# git-lfs's words for a refused login (never bare status numbers: oids and paths hold them)
_AUTH_MARKERS = (
    "authentication required",
    "authorization error",
    "401 unauthorized",
    "403 forbidden",
    "bad credentials",
    "git credentials for",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
)
TRIES = 3  # a download whose bytes do not match its sha256 is tried this many times
WORKERS = 8
_CHUNK = 1 << 20


class Progress(Protocol):
    """What a transfer reports as it goes (the CLI draws a bar on a terminal)."""

    def start(self, total_bytes: int, objects: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def finish(self) -> None: ...


@dataclass
class TransferReport:
    destination: str
    moved: list[str] = field(default_factory=list)  # sha256 of objects transferred
    already: list[str] = field(default_factory=list)  # here already / there already
    missing: list[ArtifactFile] = field(default_factory=list)  # nowhere to be had
    bytes_moved: int = 0
    placed: list[Path] = field(default_factory=list)
    detail: str = ""  # the transport's last message when something was missing
    refused: bool = False  # the transport refused our credentials
    damaged: list[ArtifactFile] = field(default_factory=list)  # the remote's copy is damaged


def select(files: list[ArtifactFile], paths: Sequence[str], run: Run) -> list[ArtifactFile]:
    """The artifacts named by ``paths`` (a file's path, or a folder holding some); all
    when none are given."""
    if not paths:
        return files
    chosen: dict[str, ArtifactFile] = {}
    for wanted in paths:
        folder = wanted.strip("/") + "/"
        matches = [f for f in files if f.path == wanted.strip("/") or f.path.startswith(folder)]
        if not matches:
            known = ", ".join(f.path for f in files[:8]) or "none"
            raise ArtifactError(
                f"run {run.name} ({run.id[-8:]}) has no artifact '{wanted}' (it has: {known})",
                f"list them: gitruns artifacts ls {run.id[-8:]}",
            )
        chosen.update({f.path: f for f in matches})
    return [chosen[p] for p in sorted(chosen)]


def fetch_missing(
    store: Store,
    files: list[ArtifactFile],
    destination: Destination,
    progress: Progress | None = None,
    echo: Echo | None = None,
) -> TransferReport:
    """Bring into the local store every object of ``files`` that is not here."""
    local = artifact_store(store)
    report = TransferReport(destination.label)
    wanted = _unique([f for f in files if not f.here])
    report.already = sorted({f.sha256 for f in files if f.here})
    if not wanted:
        return report
    if progress is not None:
        progress.start(sum(f.size for f in wanted), len(wanted))
    try:
        if destination.object_store is None:
            with _watching(local, wanted, progress):
                _fetch_lfs(store, local, destination.name, wanted, report, echo)
        else:
            _fetch_store(local, _open(destination), wanted, report, progress)
    finally:
        if progress is not None:
            progress.finish()
    return report


def _fetch_lfs(
    store: Store,
    local: ArtifactStore,
    remote: str,
    wanted: list[ArtifactFile],
    report: TransferReport,
    echo: Echo | None,
) -> None:
    pending = wanted
    message = ""
    for _attempt in range(TRIES):
        message = lfs.fetch_objects(store, remote, [(f.sha256, f.size) for f in pending], echo)
        arrived = [f for f in pending if local.object_path(f.sha256).is_file()]
        local.note_added([f.sha256 for f in arrived])
        bad = [f for f in arrived if not _matches(local.object_path(f.sha256), f)]
        for f in bad:  # git-lfs checks downloads; this catches what went wrong on disk
            _discard(local.object_path(f.sha256))
        good = [f for f in arrived if f not in bad]
        report.moved += [f.sha256 for f in good]
        report.bytes_moved += sum(f.size for f in good)
        absent = [f for f in pending if f not in arrived]
        pending = bad
        if absent:
            report.missing += absent
        if not pending:
            break
    if pending:
        raise ArtifactError(
            f"{len(pending)} object(s) from {remote} did not match their sha256 after {TRIES} "
            f"tries: {pending[0].path}",
            "check the remote's LFS store; the local copies were discarded",
        )
    if report.missing and message.strip():
        report.detail = _last_line(message)
        lowered = message.lower()
        report.refused = any(marker in lowered for marker in _AUTH_MARKERS)
        # git-lfs: "... has an invalid hash <got>, expected <oid>" (it kept nothing)
        bad_oids = set(re.findall(r"invalid hash [0-9a-f]{64}, expected ([0-9a-f]{64})", message))
        report.damaged = [f for f in report.missing if f.sha256 in bad_oids]


@contextlib.contextmanager
def _watching(
    local: ArtifactStore, wanted: list[ArtifactFile], progress: Progress | None
) -> Iterator[None]:
    """Progress of a git-lfs download, which shows none when its stderr is not a terminal:
    a thread adds up the objects arrived and the partial files git-lfs writes."""
    if progress is None:
        yield
        return
    stop = threading.Event()
    incomplete = local.root / "incomplete"
    reported = [0]

    def update() -> None:
        done = 0
        for f in wanted:
            if local.object_path(f.sha256).exists():
                done += f.size
            else:
                with contextlib.suppress(OSError):
                    done += (incomplete / f"{f.sha256}.part").stat().st_size
        if done > reported[0]:
            progress.advance(done - reported[0])
            reported[0] = done

    def poll() -> None:
        while not stop.wait(0.2):
            update()

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        update()


def _fetch_store(
    local: ArtifactStore,
    source: ObjectStore,
    wanted: list[ArtifactFile],
    report: TransferReport,
    progress: Progress | None,
) -> None:
    advance = progress.advance if progress is not None else None

    def one(f: ArtifactFile) -> ArtifactFile | None:
        if source.size_of(f.sha256) is None:
            return f
        partial = local.root / "tmp" / f"gitruns-partial-{f.sha256}"
        partial.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(TRIES):
            if source.download(f.sha256, f.size, partial, advance):
                local.adopt(partial, f.sha256)
                return None
        raise ArtifactError(
            f"{f.path} (sha256 {f.sha256[:12]}) from {source.url} did not match its sha256 "
            f"after {TRIES} tries",
            "the object store holds a damaged copy: push a good one from a clone that has it",
        )

    with ThreadPoolExecutor(WORKERS) as pool:
        for f, absent in zip(wanted, pool.map(one, wanted), strict=True):
            if absent is None:
                report.moved.append(f.sha256)
                report.bytes_moved += f.size
            else:
                report.missing.append(absent)


def push_objects(
    store: Store,
    files: list[ArtifactFile],
    destination: Destination,
    progress: Progress | None = None,
    echo: Echo | None = None,
    *,
    terminal: bool = False,
) -> TransferReport:
    """Send the objects of ``files`` that are here to ``destination``; objects not here are
    reported as missing (they may be on the remote already, from whoever recorded them).
    ``terminal``: git-lfs writes its own progress and messages to our stderr."""
    local = artifact_store(store)
    report = TransferReport(destination.label)
    unique = _unique(files)
    report.missing = [f for f in unique if not f.here]
    present = [f for f in unique if f.here]
    for f in present:  # objects of schema_version 1 runs: into the LFS store first
        assert f.local_path is not None
        if f.local_path != local.object_path(f.sha256):
            _link_into(local, f)
    if not present:
        return report
    if destination.object_store is None:
        lfs.push_objects(
            store, destination.name, [f.sha256 for f in present], echo, terminal=terminal
        )
        report.moved = [f.sha256 for f in present]
        report.bytes_moved = sum(f.size for f in present)
        return report
    target = _open(destination)
    if progress is not None:
        progress.start(sum(f.size for f in present), len(present))
    advance = progress.advance if progress is not None else None
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            sent = list(
                pool.map(
                    lambda f: target.upload(local.object_path(f.sha256), f.sha256, f.size, advance),
                    present,
                )
            )
    finally:
        if progress is not None:
            progress.finish()
    for f, moved in zip(present, sent, strict=True):
        (report.moved if moved else report.already).append(f.sha256)
        report.bytes_moved += f.size if moved else 0
    return report


def place(
    store: Store, files: list[ArtifactFile], output: Path, *, force: bool = False
) -> list[Path]:
    """Copy each artifact to ``output/<path>``, hashing as it copies; a file already there
    with the same bytes is kept, one with other bytes is an error unless ``force``."""
    local = artifact_store(store)
    targets = [(f, _target(output, f.path)) for f in files]
    clashes = [t for f, t in targets if t.exists() and not force and not _matches(t, f)]
    if clashes:
        raise ArtifactError(
            f"{clashes[0]} exists and differs from the artifact"
            + (f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""),
            "choose another folder with -o DIR, or overwrite with --force",
        )
    placed = []
    for f, target in targets:
        if target.exists() and _matches(target, f):
            placed.append(target)
            continue
        source = local.find(f.sha256)
        if source is None:
            raise ArtifactError(
                f"{f.path} is not here", f"download it: gitruns artifacts get RUN {f.path}"
            )
        _copy_verified(source, target, f)
        placed.append(target)
    return placed


def _target(output: Path, path: str) -> Path:
    """``output/path``, for a path from a run's artifacts.yaml (untrusted: a fetched run)."""
    try:
        check_artifact_path(path)
    except InvalidInputError as exc:
        raise ArtifactError(f"refusing to write artifact path {path!r}", exc.message) from exc
    return output / path


def _copy_verified(source: Path, target: Path, f: ArtifactFile) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.gitruns-tmp")
    digest = hashlib.sha256()
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != f.sha256:
            raise ArtifactError(
                f"the local copy of {f.path} ({source}) is damaged: its sha256 is "
                f"{digest.hexdigest()[:12]}, not {f.sha256[:12]}",
                "it was removed; run the same command again to download a good copy",
            )
        os.chmod(tmp, 0o644)
        tmp.replace(target)
    except ArtifactError:
        _discard(source)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _matches(path: Path, f: ArtifactFile) -> bool:
    """True when the file holds exactly the artifact's bytes."""
    try:
        if path.stat().st_size != f.size:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == f.sha256


def _link_into(local: ArtifactStore, f: ArtifactFile) -> None:
    """An object of the old store, hard-linked (or copied) into the LFS store."""
    assert f.local_path is not None
    tmp = local.tmp_file()
    try:
        os.link(f.local_path, tmp)
    except OSError:
        shutil.copyfile(f.local_path, tmp)
    local.adopt(tmp, f.sha256)


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:
        os.chmod(path.parent, 0o755)
        path.unlink(missing_ok=True)


def _unique(files: list[ArtifactFile]) -> list[ArtifactFile]:
    seen: dict[str, ArtifactFile] = {}
    for f in files:
        seen.setdefault(f.sha256, f)
    return list(seen.values())


def _open(destination: Destination) -> ObjectStore:
    assert destination.object_store is not None
    return ObjectStore(destination.object_store.url, destination.object_store.options)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def files_of(store: Store, run: Run) -> list[ArtifactFile]:
    return artifact_files(artifact_store(store), run.artifacts)
