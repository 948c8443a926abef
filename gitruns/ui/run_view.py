"""One run's page: the run found by id (local or fetched), and each section's data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gitruns.errors import GitrunsError, InvalidInputError, RunNotFoundError
from gitruns.format import layout, yamlio
from gitruns.format.layout import REMOTE_RUNS_PREFIX
from gitruns.query.cache import LOCAL, sync
from gitruns.query.resolve import find_run
from gitruns.runs.annotate import history
from gitruns.runs.envinfo import parse_packages, read_env
from gitruns.runs.model import Run, load_run
from gitruns.storage import Store

LOG_STREAMS = ("stdout", "stderr")
MAX_LOG_BYTES = 64 * 1024 * 1024
DEFAULT_TAIL = 1000
MAX_MATCHES = 5000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def locate_run(store: Store, ref: str, origin: str | None = None) -> tuple[Run, str]:
    """The run ``ref`` names and where it comes from (``local`` or a remote's name).

    A full id is looked up among local runs, then fetched ones (``origin`` picks a copy);
    anything else (a name, a prefix or suffix of an id) as ``gitruns show`` takes it.
    """
    if origin not in (None, LOCAL):
        return _fetched(store, ref, str(origin)), str(origin)
    commit = store.run_commit(ref) if _looks_like_id(ref) else None
    if commit is not None:
        return load_run(store, ref, commit), LOCAL
    if _looks_like_id(ref) and origin is None:
        for remote in sorted(store.remote_run_refs()):
            if store.ref_commit(f"{REMOTE_RUNS_PREFIX}{remote}/{ref}"):
                return _fetched(store, ref, remote), remote
    return find_run(store, ref), LOCAL


def _looks_like_id(ref: str) -> bool:
    return len(ref) == 36 and ref.count("-") == 4


def _fetched(store: Store, run_id: str, remote: str) -> Run:
    from gitruns.runs.untrusted import load_untrusted_run

    name = f"{REMOTE_RUNS_PREFIX}{remote}/{run_id}"
    commit = store.ref_commit(name)
    if commit is None or "/" in remote or ".." in remote:
        raise RunNotFoundError(f"no run {run_id} fetched from '{remote}'", "list runs")
    return load_untrusted_run(store, name, run_id, commit)


def run_detail(store: Store, run: Run, origin: str) -> dict[str, Any]:
    """Everything the run page shows at once (series, logs and files load on demand)."""
    data: dict[str, Any] = layout.json_safe(run.to_dict())
    data["origin"] = origin
    data["env"] = read_env(run).to_dict()
    files = store.file_ids(run.commit) if run.commit else None
    data["has_patch"] = _has_file(run, files, layout.PATCH_FILE)
    data["logs"] = [s for s in LOG_STREAMS if _has_file(run, files, f"logs/{s}.txt")]
    data["history"] = _history(store, run) if run.commit else []
    data["lineage"] = lineage(store, run)
    data["artifacts"] = [_artifact(store, a) for a in run.artifacts]
    return data


def _has_file(run: Run, files: dict[str, str] | None, path: str) -> bool:
    """Whether the run has the file: from its commit's tree, or for a run in progress
    (no commit yet) by asking the library for it."""
    if files is not None:
        return path in files
    try:
        return run.file(path, MAX_LOG_BYTES) is not None
    except GitrunsError:
        return False


def _history(store: Store, run: Run) -> list[dict[str, Any]]:
    try:
        return [entry.to_dict() for entry in history(store, run.id, run.commit)]
    except GitrunsError:
        return []


def lineage(store: Store, run: Run) -> dict[str, Any]:
    """Parent runs (with name and status when they are here) and the recorded inputs."""
    rows = {row.run_id: row for row in sync(store).runs()}
    parents = []
    for parent_id in run.parents:
        row = rows.get(parent_id)
        parents.append(
            {
                "id": parent_id,
                "name": row.name if row else None,
                "status": row.status if row else None,
                "here": row is not None,
            }
        )
    return {"parents": parents, "inputs": layout.json_safe(run.document.get("inputs", []))}


def _artifact(store: Store, pointer: dict[str, Any]) -> dict[str, Any]:
    path = artifact_file(store, pointer)
    media = str(pointer.get("media_type") or "")
    return {
        **pointer,
        "here": path is not None,
        "image": media.startswith("image/") and media != "image/svg+xml",
    }


def artifact_file(store: Store, pointer: dict[str, Any]) -> Path | None:
    """The artifact's content in the configured store, or None when it is not here."""
    from gitruns.recording.artifacts import artifact_store

    sha = str(pointer.get("sha256", ""))
    if not _SHA256.fullmatch(sha):
        return None
    path = artifact_store(store).object_path(sha)
    return path if path.is_file() else None


def find_artifact(run: Run, path: str) -> dict[str, Any]:
    for pointer in run.artifacts:
        if pointer.get("path") == path:
            return pointer
    raise RunNotFoundError(f"run {run.id} has no artifact '{path}'", "see its artifact list")


def log_lines(
    run: Run, stream: str, tail: int | None = DEFAULT_TAIL, search: str = ""
) -> dict[str, Any]:
    """The last ``tail`` lines of a log (all with None), or the lines containing
    ``search`` (case-insensitive), each with its 1-based line number."""
    if stream not in LOG_STREAMS:
        raise InvalidInputError(f"no log stream '{stream}'", "use stdout or stderr")
    raw = run.file(f"logs/{stream}.txt", MAX_LOG_BYTES) or b""
    lines = raw.decode("utf-8", errors="replace").splitlines()
    numbered = list(enumerate(lines, start=1))
    if search:
        needle = search.lower()
        numbered = [(n, line) for n, line in numbered if needle in line.lower()]
        numbered = numbered[-MAX_MATCHES:]
    elif tail is not None:
        numbered = numbered[-tail:] if tail > 0 else []
    return {
        "stream": stream,
        "total": len(lines),
        "lines": [[n, line] for n, line in numbered],
        "search": search,
    }


def environment(run: Run) -> dict[str, Any]:
    """The recorded platform (as stored) and packages (name -> version)."""
    platform: Any = None
    raw = run.file(layout.PLATFORM_FILE)
    if raw is not None:
        try:
            platform = layout.json_safe(yamlio.load(raw, f"run {run.id} {layout.PLATFORM_FILE}"))
        except GitrunsError as exc:
            platform = {"error": exc.message}
    packages_raw = run.file(layout.PACKAGES_FILE)
    packages = parse_packages(packages_raw.decode("utf-8", "replace")) if packages_raw else None
    return {"summary": read_env(run).to_dict(), "platform": platform, "packages": packages}


def patch_text(run: Run) -> str:
    raw = run.file(layout.PATCH_FILE, MAX_LOG_BYTES)
    return raw.decode("utf-8", errors="replace") if raw else ""
