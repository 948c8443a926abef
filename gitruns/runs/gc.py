"""``gitruns gc``: purge old trash, pack refs, run ``git gc``, and remove artifacts and staging
leftovers that no run references."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitruns.format import layout, packs
from gitruns.format.layout import MAX_META_BYTES, REMOTE_RUNS_PREFIX, RUNS_PREFIX, TRASH_PREFIX
from gitruns.locks import LivenessLock
from gitruns.recording.artifacts import artifact_store
from gitruns.recording.recovery import recover_orphans, staging_area
from gitruns.recording.spare import SPARE_PREFIX, is_dead_spare
from gitruns.recording.staging import writer_dirs
from gitruns.recording.staging_files import EVENTS_FILE, NEW_PREFIX, OWNER_LOCK
from gitruns.runs.trash import TrashedRun, trash_days, trashed_runs
from gitruns.storage import Store

LEFTOVER_AGE_S = 3600.0  # staging or artifact files younger than this may still be in use
_SHA256 = re.compile(rb"[0-9a-f]{64}")


@dataclass
class GcReport:
    recovered: list[str] = field(default_factory=list)  # crashed runs finalised first
    purged: list[TrashedRun] = field(default_factory=list)
    artifacts_removed: int = 0
    artifact_bytes: int = 0
    artifacts_skipped: str | None = None  # why the artifact store was left alone
    artifact_digests: list[str] = field(default_factory=list)  # what was (or would be) removed
    staging_removed: int = 0
    staging_bytes: int = 0
    objects_before: int = 0
    objects_after: int = 0
    git_gc: str = ""

    @property
    def freed(self) -> int:
        git_freed = max(self.objects_before - self.objects_after, 0)
        return git_freed + self.artifact_bytes + self.staging_bytes


def collect_garbage(
    store: Store,
    *,
    older_than_days: float | None = None,
    now: bool = False,
    dry_run: bool = False,
) -> GcReport:
    """Purge old trash, pack refs, gc git, and drop unreferenced artifacts and staging."""
    if not dry_run:
        store.require_writable()
    report = GcReport(objects_before=_size(store.common_dir / "objects"))
    _collect_staging(store, report, dry_run)  # before recovery, which also removes them
    if not dry_run:
        report.recovered = recover_orphans(store)
    cutoff = time.time() - trash_days(store, older_than_days) * 86400
    for trashed in trashed_runs(store):
        if trashed.deleted_at <= cutoff and (
            dry_run or store.delete_named_ref(TRASH_PREFIX + trashed.id, trashed.marker)
        ):
            report.purged.append(trashed)
    with store.no_background_compaction():
        _collect_artifacts(store, report, dry_run)
        _collect_stale_packed_refs_lock(store, report, dry_run)
    if not dry_run:
        store.git("pack-refs", "--all")
        store.git(*(["gc", "--quiet", "--prune=now"] if now else ["gc", "--auto", "--quiet"]))
        report.git_gc = "git gc --prune=now" if now else "git gc --auto"
    report.objects_after = _size(store.common_dir / "objects")
    return report


def _collect_staging(store: Store, report: GcReport, dry_run: bool) -> None:
    """Folders a run never finished creating (``.new-*``, its process died first), and
    what a process killed while writing objects left: temporary packs and keep files."""
    _collect_write_leftovers(store, report, dry_run)
    root = staging_area(store).root
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if not entry.name.startswith(NEW_PREFIX) or _age(entry) <= LEFTOVER_AGE_S:
            continue
        lock = LivenessLock.acquire(entry / OWNER_LOCK, create=False)
        if lock is None and (entry / OWNER_LOCK).exists():
            continue  # its owner still lives
        try:
            report.staging_removed += 1
            report.staging_bytes += _size(entry)
            if not dry_run:
                shutil.rmtree(entry, ignore_errors=True)
        finally:
            if lock is not None:
                lock.release()


def _collect_write_leftovers(store: Store, report: GcReport, dry_run: bool) -> None:
    """Keep files protect a pack for the moment between writing it and moving a ref, or
    (a dirty tree's snapshot) while its run is staged: one older than LEFTOVER_AGE_S whose
    run is not staged any more was left by a killed process. Its pack stays; gc then
    treats it like any other."""
    root = staging_area(store).root
    staged = {p.removeprefix(NEW_PREFIX) for p in os.listdir(root)} if root.is_dir() else set()
    for keep, reason in packs.gitruns_keeps(store.objects_dir):
        words = reason.split()
        if _age(keep) <= LEFTOVER_AGE_S or (len(words) > 2 and words[2] in staged):
            continue
        report.staging_removed += 1
        if not dry_run:
            keep.unlink(missing_ok=True)
    tmp = store.gitruns_dir / "tmp"
    for entry in list(tmp.iterdir()) if tmp.is_dir() else []:
        if entry.name.startswith(SPARE_PREFIX):  # a process's folder for its next run
            if not is_dead_spare(entry):
                continue
        elif _age(entry) <= LEFTOVER_AGE_S:
            continue
        report.staging_removed += 1
        report.staging_bytes += _size(entry)
        if dry_run:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _collect_stale_packed_refs_lock(store: Store, report: GcReport, dry_run: bool) -> None:
    """A ``git pack-refs`` killed mid-way (ours runs in the background) leaves
    ``packed-refs.lock``, and git then refuses to delete any packed ref; killed while
    writing, also ``packed-refs.new`` (git writes the new file there under the lock), and
    every later ``pack-refs`` and deletion of a packed ref fails to create it again. While
    the repack lock is held no compaction of ours runs; an hour-old file is a leftover."""
    for name in ("packed-refs.lock", "packed-refs.new"):
        left = store.common_dir / name
        if left.exists() and _age(left) > LEFTOVER_AGE_S:
            report.staging_removed += 1
            if not dry_run:
                left.unlink(missing_ok=True)


def _collect_artifacts(store: Store, report: GcReport, dry_run: bool) -> None:
    """Objects no run references: in the LFS store only those gitruns added (the rest may
    belong to the user's own LFS files), and anything in the old default store."""
    artifacts = artifact_store(store)
    referenced = _referenced_digests(store)
    for digest in sorted(artifacts.listed() - referenced):
        _remove(artifacts.object_path(digest), report, dry_run)
    legacy = store.gitruns_dir / "artifacts"
    for path in _artifact_files(legacy):
        named = path.parent.name + path.name if path.parent.parent.name == "sha256" else None
        if named not in referenced:
            _remove(path, report, dry_run)
    others = [root for root in artifacts.legacy_roots if root.resolve() != legacy.resolve()]
    if others:
        report.artifacts_skipped = (
            f"{others[0]} is a configured store that other repositories may share"
        )


def _remove(path: Path, report: GcReport, dry_run: bool) -> None:
    """Remove one object file unless it is young (it may be an object being stored now)."""
    if not path.is_file() or _age(path) <= LEFTOVER_AGE_S:
        return
    size = _size(path)  # 0 when another gc removed it meanwhile
    report.artifacts_removed += 1
    report.artifact_bytes += size
    report.artifact_digests.append(path.name if len(path.name) == 64 else str(path))
    if not dry_run:
        path.unlink(missing_ok=True)


def _artifact_files(root: Path) -> list[Path]:
    found = []
    for folder in (root / "sha256", root / "tmp"):
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.is_file()]
    return found


def collect_artifacts(store: Store, *, dry_run: bool = False) -> GcReport:
    """Only the artifact part of gc (``gitruns artifacts gc``)."""
    report = GcReport()
    _collect_artifacts(store, report, dry_run)
    return report


def _referenced_digests(store: Store) -> set[str]:
    """sha256 digests named by any run (local, trashed, fetched) or run in progress.

    The raw bytes are searched rather than parsed: a run that fails validation still
    keeps its artifacts, so gc never deletes what a repaired run would need.

    Runs in progress are read before the refs: a run that ends meanwhile has its ref
    written before its staging folder leaves ``staging/`` (finalize, then a rename away or
    recording/spare.py's retire), so a folder gone while being read is a run whose ref the
    refs read next include. Read the other way round, such a run would be in neither.
    """
    digests: set[str] = set()
    for run_dir in staging_area(store).run_dirs():
        digests |= _staged_digests(run_dir)
    tips = set(store.refs_under(RUNS_PREFIX).values())
    tips |= set(store.refs_under(TRASH_PREFIX).values())
    tips |= set(store.refs_under(REMOTE_RUNS_PREFIX).values())
    for commit in tips:
        raw = store.read_file(commit, layout.ARTIFACTS_FILE, MAX_META_BYTES * 16) or b""
        digests.update(d.decode() for d in _SHA256.findall(raw))
    return digests


def _staged_digests(run_dir: Path) -> set[str]:
    """The digests a run in progress has journalled; what is left of it when its folder
    is renamed away (the run ended) while being read."""
    digests: set[str] = set()
    try:
        folders = writer_dirs(run_dir)
    except FileNotFoundError:
        return digests  # ended since staging/ was listed: its ref is read after this
    for folder in folders:
        try:
            journal = (folder / EVENTS_FILE).read_bytes()
        except FileNotFoundError:
            continue  # no journal yet, or the run ended meanwhile
        digests.update(d.decode() for d in _SHA256.findall(journal))
    return digests


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(path: Path) -> int:
    """Bytes under ``path``; what is removed meanwhile (a run's own cleanup) counts 0."""
    if path.is_file():
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total
