"""Deleting runs into a trash they can be restored from, and collecting garbage.

``delete_run`` adds a marker commit (trailer ``Gitruns-Annotation: deleted``; its commit
time is the deletion time) on top of the run and, in one ref transaction, moves the run
from ``refs/runs/<id>`` to ``refs/gitruns-trash/<id>``: the run's objects stay reachable,
and nothing but gitruns looks there. ``restore_run`` moves the ref back to the commit the
run had before it was deleted. ``collect_garbage`` purges trash older than the grace
period, packs refs, runs ``git gc``, and removes artifacts and staging leftovers that no
run references.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitruns import annotate, layout, packs, yamlio
from gitruns.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    GitrunsError,
    InvalidInputError,
    RunNotFoundError,
)
from gitruns.journal import EVENTS_FILE
from gitruns.locks import LivenessLock
from gitruns.records import MAX_META_BYTES
from gitruns.recovery import recover_orphans, staging_area
from gitruns.staging import OWNER_LOCK, writer_dirs
from gitruns.storage import REMOTE_RUNS_PREFIX, RUNS_PREFIX, Store

TRASH_PREFIX = "refs/gitruns-trash/"
DEFAULT_TRASH_DAYS = 30.0
CONFIG_TRASH_DAYS = "gitruns.trashDays"
LEFTOVER_AGE_S = 3600.0  # staging or artifact files younger than this may still be in use
_SHA256 = re.compile(rb"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrashedRun:
    id: str
    name: str
    marker: str  # the deletion commit, where refs/gitruns-trash/<id> points
    original: str  # the run's commit before deletion, where restore puts it back
    deleted_at: float
    deleted_by: str


def delete_run(store: Store, run_id: str) -> TrashedRun:
    """Move a run to the trash (restorable until ``gitruns gc`` purges it)."""
    store.require_writable()
    message = annotate.annotation_message("deleted", "moved to the trash")
    for attempt in range(50):
        old = store.run_commit(run_id)
        if old is None:
            raise RunNotFoundError(f"run {run_id} no longer exists", "run 'gitruns ls'")
        marker = store.commit_same_tree(old, message)
        # A copy deleted earlier (the run came back by a fetch since) is replaced.
        earlier = store.ref_commit(TRASH_PREFIX + run_id)
        if store.move_ref(RUNS_PREFIX + run_id, old, TRASH_PREFIX + run_id, marker, earlier):
            return _trashed(store, run_id, marker)
        time.sleep(random.uniform(0.005, 0.05) * (1 + attempt / 5))
    raise ConcurrentUpdateError(f"run {run_id} kept changing while being deleted", "try again")


def trashed_runs(store: Store) -> list[TrashedRun]:
    """Every run in the trash, most recently deleted first."""
    found = [
        _trashed(store, name[len(TRASH_PREFIX) :], commit)
        for name, commit in store.refs_under(TRASH_PREFIX).items()
    ]
    return sorted(found, key=lambda t: t.deleted_at, reverse=True)


def _trashed(store: Store, run_id: str, marker: str) -> TrashedRun:
    parents, author, _message, when = store.commit_info(marker)
    original = parents[0] if parents else marker  # a trash ref gitruns did not write
    return TrashedRun(run_id, _name(store, marker), marker, original, when, author)


def _name(store: Store, commit: str) -> str:
    try:
        raw = store.read_file(commit, layout.RUN_FILE, MAX_META_BYTES)
        document = yamlio.load(raw or b"{}", "run.yaml")
        return str(document.get("name", "?")) if isinstance(document, dict) else "?"
    except GitrunsError:
        return "?"


def resolve_trashed(store: Store, ref: str) -> TrashedRun:
    """A trashed run by full id, unique id prefix or suffix, or name (newest deletion)."""
    text = ref.strip().lower()
    trash = trashed_runs(store)
    by_id = [t for t in trash if t.id.startswith(text) or (len(text) >= 4 and t.id.endswith(text))]
    exact = [t for t in trash if t.id == text]
    if exact:
        return exact[0]
    if len(by_id) > 1:
        raise AmbiguousRunError(ref, sorted(t.id for t in by_id))
    if by_id:
        return by_id[0]
    by_name = [t for t in trash if t.name == ref.strip()]
    if by_name:
        return by_name[0]
    raise RunNotFoundError(
        f"no deleted run matches '{ref}'", "list them with 'gitruns restore --list'"
    )


def restore_run(store: Store, ref: str) -> TrashedRun:
    """Put a deleted run back on ``refs/runs/<id>`` exactly as it was."""
    store.require_writable()
    trashed = resolve_trashed(store, ref)
    if store.run_commit(trashed.id) is not None:
        raise GitrunsError(
            f"run {trashed.id} exists again (fetched or recreated since it was deleted)",
            "keep that one, or delete it before restoring",
        )
    if not store.move_ref(
        TRASH_PREFIX + trashed.id, trashed.marker, RUNS_PREFIX + trashed.id, trashed.original
    ):
        raise ConcurrentUpdateError(f"run {trashed.id} changed while restoring", "try again")
    return trashed


def trash_days(store: Store, override: float | None = None) -> float:
    """The grace period: ``override``, else git config gitruns.trashDays, else 30 days."""
    if override is not None:
        return override
    configured = store.config_value(CONFIG_TRASH_DAYS)
    if configured is None:
        return DEFAULT_TRASH_DAYS
    try:
        return parse_age_days(configured)
    except InvalidInputError as exc:
        raise InvalidInputError(f"git config {CONFIG_TRASH_DAYS}: {exc.message}", exc.hint) from exc


def parse_age_days(text: str) -> float:
    """``30``/``30d``, ``12h``, ``90m``, ``2w``, ``0`` -> days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise InvalidInputError(f"'{text}' is not an age", "write e.g. 30d, 12h, 2w or 0")
    units = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "": 1.0}
    return float(match.group(1)) * units[match.group(2)]


# -- gc ------------------------------------------------------------------------------------------
@dataclass
class GcReport:
    recovered: list[str] = field(default_factory=list)  # crashed runs finalised first
    purged: list[TrashedRun] = field(default_factory=list)
    artifacts_removed: int = 0
    artifact_bytes: int = 0
    artifacts_skipped: str | None = None  # why the artifact store was left alone
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
    _collect_artifacts(store, report, dry_run)
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
        if not entry.name.startswith(".new-") or _age(entry) <= LEFTOVER_AGE_S:
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
    staged = {p.removeprefix(".new-") for p in os.listdir(root)} if root.is_dir() else set()
    for keep, reason in packs.gitruns_keeps(store.objects_dir):
        words = reason.split()
        if _age(keep) <= LEFTOVER_AGE_S or (len(words) > 2 and words[2] in staged):
            continue
        report.staging_removed += 1
        if not dry_run:
            keep.unlink(missing_ok=True)
    tmp = store.gitruns_dir / "tmp"
    for entry in list(tmp.iterdir()) if tmp.is_dir() else []:
        if _age(entry) <= LEFTOVER_AGE_S:
            continue
        report.staging_removed += 1
        report.staging_bytes += _size(entry)
        if dry_run:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _collect_artifacts(store: Store, report: GcReport, dry_run: bool) -> None:
    from gitruns.api import artifact_store

    artifacts = artifact_store(store)
    if artifacts.root.resolve() != (store.gitruns_dir / "artifacts").resolve():
        report.artifacts_skipped = (
            f"{artifacts.root} is a configured store that other repositories may share"
        )
        return
    referenced = _referenced_digests(store)
    for path in _artifact_files(artifacts.root):
        digest = path.parent.name + path.name if path.parent.parent.name == "sha256" else None
        if digest in referenced or _age(path) <= LEFTOVER_AGE_S:
            continue
        report.artifacts_removed += 1
        report.artifact_bytes += path.stat().st_size
        if not dry_run:
            path.unlink(missing_ok=True)


def _artifact_files(root: Path) -> list[Path]:
    found = []
    for folder in (root / "sha256", root / "tmp"):
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.is_file()]
    return found


def _referenced_digests(store: Store) -> set[str]:
    """sha256 digests named by any run (local, trashed, fetched) or run in progress.

    The raw bytes are searched rather than parsed: a run that fails validation still
    keeps its artifacts, so gc never deletes what a repaired run would need.
    """
    tips = set(store.refs_under(RUNS_PREFIX).values())
    tips |= set(store.refs_under(TRASH_PREFIX).values())
    tips |= set(store.refs_under(REMOTE_RUNS_PREFIX).values())
    digests: set[str] = set()
    for commit in tips:
        raw = store.read_file(commit, layout.ARTIFACTS_FILE, MAX_META_BYTES * 16) or b""
        digests.update(d.decode() for d in _SHA256.findall(raw))
    for run_dir in staging_area(store).run_dirs():
        for journal in [
            w / EVENTS_FILE for w in writer_dirs(run_dir) if (w / EVENTS_FILE).exists()
        ]:
            digests.update(d.decode() for d in _SHA256.findall(journal.read_bytes()))
    return digests


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total
