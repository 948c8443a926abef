"""The artifact verbs over runs: what is where (``ls``), ``get``, ``push``, ``verify``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from gitruns.artifacts.located import LocatedRun, locate_run
from gitruns.artifacts.objectstore import ObjectStore
from gitruns.artifacts.remotes import Destination, destination
from gitruns.artifacts.transfer import (
    Progress,
    TransferReport,
    fetch_missing,
    files_of,
    place,
    push_objects,
    select,
)
from gitruns.errors import ArtifactError, GitrunsError
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX, TRASH_PREFIX
from gitruns.recording.artifacts import ArtifactFile, artifact_files, artifact_store
from gitruns.runs.model import Run, load_run
from gitruns.sharing.gitcli import Echo
from gitruns.storage import Store

HERE, REMOTE, MISSING = "here", "remote", "missing"


@dataclass(frozen=True)
class ArtifactState:
    file: ArtifactFile
    state: str  # here | remote | missing
    where: str  # the local path, or the remote it would come from


def list_artifacts(
    store: Store, ref: str, remote: str | None = None, *, check_remote: bool = True
) -> tuple[LocatedRun, list[ArtifactState]]:
    """Each artifact of a run: ``here`` (in the local store), ``remote`` (to download from
    the run's remote) or ``missing`` (an object store that lacks it, or no remote at all).
    An LFS endpoint is not asked (that takes a download); an object store is."""
    located = locate_run(store, ref)
    files = files_of(store, located.run)
    try:
        target: Destination | None = destination(store, remote, located.origin)
    except ArtifactError:
        if remote is not None:
            raise
        target = None
    object_store = None
    if target is not None and target.object_store is not None and check_remote:
        object_store = ObjectStore(target.object_store.url, target.object_store.options)
    states = []
    for f in files:
        if f.local_path is not None:
            states.append(ArtifactState(f, HERE, str(f.local_path)))
        elif target is None:
            states.append(ArtifactState(f, MISSING, "no remote"))
        elif object_store is not None and object_store.size_of(f.sha256) != f.size:
            states.append(ArtifactState(f, MISSING, target.label))
        else:
            states.append(ArtifactState(f, REMOTE, target.label))
    return located, states


def get_artifacts(
    store: Store,
    ref: str,
    paths: list[str] | None = None,
    output: Path | None = None,
    *,
    remote: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    echo: Echo | None = None,
) -> tuple[LocatedRun, TransferReport]:
    """Download what is not here, verify it, and (given ``output``) place copies there."""
    located = locate_run(store, ref)
    chosen = select(files_of(store, located.run), paths or [], located.run)
    report = _fetch(store, located, chosen, remote, progress, echo)
    if output is not None:
        refreshed = artifact_files(artifact_store(store), [_entry(f) for f in chosen])
        report.placed = place(store, refreshed, output, force=force)
    return located, report


def get_artifact(store: Store, run: Run | str, path: str, *, remote: str | None = None) -> Path:
    """The local path of one artifact's content, downloaded (and its sha256 checked) when it
    is not here. The file is the object in the local store (read-only; its name is its
    sha256); objects already here are not hashed again (``verify_artifacts`` does that)."""
    located = locate_run(store, run if isinstance(run, str) else run.id)
    chosen = select(files_of(store, located.run), [path], located.run)
    exact = [f for f in chosen if f.path == path.strip("/")]
    if not exact:
        raise ArtifactError(f"'{path}' is a folder of artifacts", "name one file in it")
    _fetch(store, located, exact, remote, None, None)
    found = artifact_store(store).find(exact[0].sha256)
    if found is None:  # removed between the download and now
        raise ArtifactError(f"{path} vanished from the local store", "try again")
    return found


def _fetch(
    store: Store,
    located: LocatedRun,
    files: list[ArtifactFile],
    remote: str | None,
    progress: Progress | None,
    echo: Echo | None,
) -> TransferReport:
    if all(f.here for f in files):
        return TransferReport("here", already=sorted({f.sha256 for f in files}))
    target = destination(store, remote, located.origin)
    report = fetch_missing(store, files, target, progress, echo)
    if report.refused:
        raise ArtifactError(
            f"{target.label} refused the credentials ({report.detail})",
            "check that git can log in to it ('git lfs env' shows the endpoint; a credential "
            "helper or 'git credential approve' stores the login)",
        )
    if report.damaged:
        names = ", ".join(f.path for f in report.damaged[:5])
        raise ArtifactError(
            f"the copy on {target.label} of {len(report.damaged)} artifact(s) of run "
            f"{located.run.name} is damaged (its sha256 differs; nothing was kept): {names}",
            "push a good copy from a clone that has one: gitruns artifacts push "
            f"{located.run.id[-8:]}",
        )
    if report.missing:
        run = located.run
        names = ", ".join(f.path for f in report.missing[:5])
        detail = f"; {report.detail}" if report.detail else ""
        raise ArtifactError(
            f"{len(report.missing)} artifact(s) of run {run.name} ({run.id[-8:]}) are neither "
            f"here nor on {target.label}: {names}{detail}",
            f"whoever recorded the run can upload them: gitruns artifacts push {run.id[-8:]}",
        )
    return report


def push_artifacts(
    store: Store,
    refs: list[str] | None = None,
    *,
    remote: str | None = None,
    progress: Progress | None = None,
    echo: Echo | None = None,
) -> TransferReport:
    """Upload the artifacts of runs (default: every local run) that are here."""
    runs = [locate_run(store, r).run for r in refs] if refs else _local_runs(store)
    files = [f for run in runs for f in files_of(store, run)]
    return push_objects(store, files, destination(store, remote), progress, echo)


@dataclass
class VerifyReport:
    checked: int = 0
    bytes_checked: int = 0
    damaged: list[tuple[ArtifactFile, Path]] = field(default_factory=list)
    not_here: int = 0


def verify_artifacts(store: Store, refs: list[str] | None = None) -> VerifyReport:
    """Hash every local object that runs reference (default: every run, local and fetched)
    and report those whose bytes differ from their sha256."""
    runs = [locate_run(store, r).run for r in refs] if refs else _all_runs(store)
    report = VerifyReport()
    seen: set[str] = set()
    for run in runs:
        for f in files_of(store, run):
            if f.sha256 in seen:
                continue
            seen.add(f.sha256)
            local = artifact_store(store).find(f.sha256)
            if local is None:
                report.not_here += 1
                continue
            report.checked += 1
            report.bytes_checked += local.stat().st_size
            if not _hash_ok(local, f):
                report.damaged.append((f, local))
    return report


def _hash_ok(path: Path, f: ArtifactFile) -> bool:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == f.sha256


def _entry(f: ArtifactFile) -> dict[str, object]:
    return {
        "path": f.path,
        "sha256": f.sha256,
        "size": f.size,
        "uri": f.uri,
        "media_type": f.media_type,
    }


def _local_runs(store: Store) -> list[Run]:
    return _runs(store, RUNS_PREFIX)


def _all_runs(store: Store) -> list[Run]:
    return _runs(store, RUNS_PREFIX, TRASH_PREFIX, REMOTE_RUNS_PREFIX)


def _runs(store: Store, *prefixes: str) -> list[Run]:
    """The runs under ``prefixes`` that can be read (a damaged one is skipped)."""
    runs = []
    refs = store.refs_under(*prefixes)
    for name, commit in sorted(refs.items()):
        try:
            runs.append(load_run(store, name.rsplit("/", 1)[1], commit))
        except GitrunsError:
            continue
    return runs


def pre_push_upload(
    store: Store, remote: str, ref_lines: str, *, terminal: bool = False
) -> tuple[TransferReport | None, str]:
    """For the pre-push hook: upload the artifacts of the runs being pushed (git's
    ``<local ref> <local sha> <remote ref> <remote sha>`` lines), in one transfer, to the
    object store bound to ``remote`` or its LFS endpoint. Returns the report (None when
    nothing was to be sent) and a note for the user ("" when none)."""
    from gitruns.artifacts import lfs
    from gitruns.artifacts.probe import pushed_run_commits, with_artifacts
    from gitruns.artifacts.remotes import list_remotes

    files: list[ArtifactFile] = []
    local = artifact_store(store)
    # One bulk read: most runs have no artifacts, and only those that have are read.
    for commit in with_artifacts(store, pushed_run_commits(ref_lines)):
        files += artifact_files(local, _artifact_entries(store, commit))
    if not files:
        return None, ""
    known = set(store.remote_names()) | {r.name for r in list_remotes(store)}
    target = destination(store, remote) if remote in known else Destination(remote)
    if target.object_store is None and not lfs.lfs_installed():
        return None, (
            f"git-lfs is not installed: {len(files)} artifact(s) went as pointers only; "
            f"{lfs.INSTALL_HINT}, then run 'gitruns artifacts push'"
        )
    report = push_objects(store, files, target, terminal=terminal)
    note = ""
    if report.missing:
        note = (
            f"{len(report.missing)} artifact(s) of the pushed runs are not here and were not "
            f"uploaded (e.g. {report.missing[0].path}); whoever has them can run "
            "'gitruns artifacts push'"
        )
    return report, note


def _artifact_entries(store: Store, commit: str) -> list[dict[str, object]]:
    """``artifacts.yaml`` of a run commit, checked against its schema (no other file read:
    the hook may see a thousand runs)."""
    from gitruns.format import schema, yamlio
    from gitruns.format.layout import ARTIFACTS_FILE, MAX_META_BYTES

    raw = store.read_file(commit, ARTIFACTS_FILE, MAX_META_BYTES)
    entries = yamlio.load(raw, f"{ARTIFACTS_FILE} of {commit[:12]}") if raw else []
    schema.validate("artifacts", entries, f"{ARTIFACTS_FILE} of {commit[:12]}")
    return list(entries or [])


def after_run_push(
    store: Store,
    remote: str,
    run_ids: list[str],
    echo: Echo | None = None,
    commits: dict[str, str] | None = None,
) -> tuple[TransferReport | None, str]:
    """What ``gitruns push`` does for artifacts once the runs went: nothing when the pre-push
    hook uploaded them; else upload them now. Returns the report (None when nothing was
    sent here) and a note for the user ("" when none). ``commits`` (``{run id: commit}``,
    as the push listed them) saves looking each run up."""
    from gitruns.artifacts import hook, lfs
    from gitruns.artifacts.probe import with_artifacts

    if commits is None:
        commits = {i: c for i in run_ids if (c := store.run_commit(i))}
    having = set(with_artifacts(store, [commits[i] for i in run_ids if i in commits]))
    runs = [load_run(store, i, commits[i]) for i in run_ids if commits.get(i) in having]
    files = [f for run in runs for f in files_of(store, run)]
    if not files:
        return None, ""
    target = destination(store, remote)
    if target.object_store is None and not lfs.lfs_installed():
        return None, (
            f"git-lfs is not installed: {len(files)} artifact(s) went as pointers only; "
            f"{lfs.INSTALL_HINT}, then run 'gitruns artifacts push'"
        )
    if hook.hook_installed(store):
        return None, ""
    return push_objects(store, files, target, None, echo), ""
