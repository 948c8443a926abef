"""Turn a staging folder into the run's commit on ``refs/runs/<id>``.

Used both when a run ends normally and when gitruns finds a run whose process died (the
run then becomes CRASHED with everything it had staged). Writing is idempotent: if the
ref already exists, an earlier finalisation won and only the staging folder is removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.errors import InvalidRunError
from gitruns.format import layout, schema, yamlio
from gitruns.format.lfs import LFS_URI_SCHEME, pointer_text
from gitruns.recording.capped_log import TAIL_SUFFIXES, assemble
from gitruns.recording.journal import CSV_HEADER, MetricSummary
from gitruns.recording.staging import (
    StagedMetric,
    StagedRun,
    inline_files,
    read_staged_run,
    remove_run_dir,
    writer_dirs,
)
from gitruns.recording.staging_files import (
    EXTRA_FILES_DIR,
    PATCH_STAGED,
    POINTS_EVENT,
    REF_SPARE,
)
from gitruns.runwrite import FileContent

if TYPE_CHECKING:  # a record in a clean worktree finalises without pygit2 (PlainRepo)
    from gitruns.capture.scrub import Scrubber
    from gitruns.runwrite import PlainRepo
    from gitruns.storage import Store


def finalize(
    store: Store | PlainRepo,
    run_dir: Path,
    *,
    status: str | None = None,
    now: float | None = None,
    owner_summaries: Mapping[str, MetricSummary] | None = None,
    dispose: Callable[[Path], None] = remove_run_dir,
    written: dict[str, Any] | None = None,
) -> str | None:
    """Write the staged run as a commit and its ref; return the commit id.

    ``status`` overrides the status; without it, the run's own ``end`` event decides, and a
    run with no ``end`` event is CRASHED. None is returned when the run already existed.
    ``dispose`` takes the staging folder away once the run's ref exists (the owner keeps
    it for its next run: recording/spare.py). ``written``, when given, receives the run's
    final ``name`` and metric ``summaries`` (``gitruns record``'s last line, without
    reading the run back from git).

    ``store`` is a ``Store``, or for ``gitruns record`` in a clean worktree a
    ``runwrite.PlainRepo``, which raises ``runwrite.NeedsStore`` before it writes anything
    when it cannot be sure (the caller then finalises through a ``Store``).
    """
    staged = read_staged_run(run_dir, owner_summaries)
    in_journal = _journal_metrics(staged, owner_summaries or {}, run_dir)
    if store.run_commit(staged.run_id) is not None:
        if staged.start.get("code_keep"):
            store.release_keep(staged.start["code_keep"])
        dispose(run_dir)
        return None
    document, params, artifacts = replay(staged, status, time.time() if now is None else now)
    scrubber = _LazyScrubber(run_dir)
    if isinstance(document.get("error"), dict):
        document["error"] = {
            k: scrubber.text(v) if isinstance(v, str) else v for k, v in document["error"].items()
        }
    files: dict[str, FileContent] = {}
    summaries: dict[str, Any] = {}
    for key, metric in sorted(staged.metrics.items()):
        content, summary = _metric_content(metric, run_dir)
        if summary.count:
            files[layout.metric_path(key)] = content
            summaries[key] = summary.to_dict()
    for key, (data, summary) in sorted(in_journal.items()):
        files[layout.metric_path(key)] = data
        summaries[key] = summary.to_dict()
    summaries = dict(sorted(summaries.items()))
    for name, doc in (
        ("run", document),
        ("params", params),
        ("summary", summaries),
        ("artifacts", artifacts),
    ):
        schema.validate(name, doc, f"run {staged.run_id} {name}")
    files[layout.PARAMS_FILE] = _readable_params(yamlio.dump(params), document, files)
    files[layout.RUN_FILE] = yamlio.dump(document)
    files[layout.SUMMARY_FILE] = yamlio.dump(summaries)
    files[layout.ARTIFACTS_FILE] = yamlio.dump(artifacts)
    files.update(pointer_files(artifacts))
    if (run_dir / PATCH_STAGED).exists():
        files[layout.PATCH_FILE] = run_dir / PATCH_STAGED
    files.update(inline_files(staged.events))
    files.update(_extra_files(run_dir / EXTRA_FILES_DIR))
    scrubber.logs(run_dir / EXTRA_FILES_DIR / "logs")
    parents = [c for c in [staged.start.get("code_commit")] if c]
    for parent_id in document["parents"]:
        parent_commit = store.run_commit(parent_id)
        if parent_commit and parent_commit not in parents:
            parents.append(parent_commit)
    message = f"run {document['name']} ({staged.run_id}): {document['status']}\n"
    commit = store.create_run_commit(
        files, parents, message, layout.parse_time(document["end_time"])
    )
    # the journal of the run this folder held before, when there was one (spare.py)
    created = store.create_ref(staged.run_id, commit, spare_file=run_dir / REF_SPARE)
    if staged.start.get("code_keep"):  # the snapshot is reachable from the run now
        store.release_keep(staged.start["code_keep"])
    dispose(run_dir)
    if written is not None:
        written.update(name=document["name"], summaries=summaries)
    return commit if created else None


OVERSIZED_PARAMS = "oversized/params.yaml"


def _readable_params(raw: bytes, document: dict[str, Any], files: dict[str, FileContent]) -> bytes:
    """params.yaml as readers accept it. Each process checks what it logs (budget.py),
    but several processes logging to one run (a script under ``gitruns record``) can add
    up to more: the run is then kept with its params set aside, never lost to listings."""
    from gitruns.errors import InvalidInputError
    from gitruns.format.budget import shape
    from gitruns.format.layout import MAX_META_BYTES

    try:
        if len(raw) > MAX_META_BYTES:
            raise InvalidInputError(f"{len(raw):,} bytes, over {MAX_META_BYTES:,}")
        if len(raw) > 400_000:  # 200,000 YAML nodes take more bytes than that
            shape(yamlio.load(raw, "params.yaml", max_bytes=len(raw), max_nodes=len(raw)), "")
    except (InvalidInputError, InvalidRunError) as exc:
        files[OVERSIZED_PARAMS] = raw
        document["notes"].append(
            {
                "text": f"params.yaml was over the limits readers accept ({exc.message});"
                f" the params are kept in {OVERSIZED_PARAMS}",
                "author": "gitruns",
                "time": layout.iso_time(time.time()),
            }
        )
        return yamlio.dump({})
    return raw


def replay(
    staged: StagedRun, status: str | None, now: float
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Apply the journal's events, in time order, to the start document."""
    document: dict[str, Any] = dict(staged.start["run"])
    document["tags"] = dict(document.get("tags", {}))
    document["notes"] = list(document.get("notes", []))
    document["parents"] = list(document.get("parents", []))
    document["inputs"] = list(document.get("inputs", []))
    # per param key, its sources: {key: source}, or one entry per dotted path (see
    # capture/param_merge.py) when its leaves came from different places
    sources: dict[str, dict[str, str]] = {
        key: {key: source} for key, source in document.get("param_sources", {}).items()
    }
    params: dict[str, Any] = {}
    artifacts: dict[str, dict[str, Any]] = {}
    end: dict[str, Any] = {}
    for event in staged.events:
        kind = event.get("event")
        if kind == "param":
            params[event["key"]] = event["value"]
            leaf_sources = event.get("sources")
            sources[event["key"]] = (
                dict(leaf_sources)
                if isinstance(leaf_sources, dict)
                else {event["key"]: event.get("source", "api")}
            )
        elif kind == "tag":
            document["tags"][event["key"]] = event["value"]
        elif kind == "untag":
            document["tags"].pop(event["key"], None)
        elif kind == "note":
            document["notes"].append(
                {k: event[k] for k in ("text", "author", "time") if k in event}
            )
        elif kind == "artifact":
            artifacts[event["pointer"]["path"]] = event["pointer"]
        elif kind == "input":
            document["inputs"].append(event["input"])
        elif kind == "parent" and event["run_id"] not in document["parents"]:
            document["parents"].append(event["run_id"])
        elif kind == "name":
            document["name"] = event["name"]
        elif kind == "fields":
            document.update(event["fields"])
        elif kind == "end":
            end = event
    final_status = status or end.get("status") or "CRASHED"
    end_seconds = (
        end.get("at", end.get("ts", now))
        if final_status != "CRASHED"
        else _last_activity(staged, now)
    )
    document["status"] = final_status
    document["end_time"] = layout.iso_time(end_seconds)
    start_seconds = layout.parse_time(document["start_time"])
    document["duration_s"] = round(max(end_seconds - start_seconds, 0.0), 3)
    document["exit_code"] = end.get("exit_code", document.get("exit_code"))
    document["error"] = end.get("error", document.get("error"))
    if sources:
        document["param_sources"] = {
            path: origin
            for key in sorted(sources)
            if key in params
            for path, origin in sorted(sources[key].items())
        }
    return document, params, [artifacts[p] for p in sorted(artifacts)]


def pointer_files(artifacts: list[dict[str, Any]]) -> dict[str, FileContent]:
    """A Git LFS pointer file at ``artifacts/<path>`` for each artifact, which is what makes
    git-lfs upload it when the run is pushed. A path that is also another artifact's folder
    (``a`` and ``a/b``, logged by two processes) cannot be both in a tree: the folder wins and
    the file keeps only its ``artifacts.yaml`` entry (``gitruns artifacts push`` uploads it)."""
    wanted = {
        layout.artifact_pointer_path(a["path"]): pointer_text(a["sha256"], a["size"])
        for a in artifacts
        if str(a.get("uri", "")).startswith(LFS_URI_SCHEME + ":")
    }
    folders = {path.rsplit("/", n)[0] for path in wanted for n in range(1, path.count("/"))}
    return {path: text for path, text in wanted.items() if path not in folders}


def _last_activity(staged: StagedRun, now: float) -> float:
    """A crashed run ended when its journal last changed, not when we noticed."""
    newest = 0.0
    for metric in staged.metrics.values():
        for path in metric.files:
            newest = max(newest, path.stat().st_mtime)
    if staged.events:
        newest = max(newest, float(staged.events[-1].get("ts", 0.0)))
    start = layout.parse_time(staged.start["run"]["start_time"])
    return max(min(newest or now, now), start)


def _journal_metrics(
    staged: StagedRun, summaries: Mapping[str, MetricSummary], run_dir: Path
) -> dict[str, tuple[bytes, MetricSummary]]:
    """Points the owner put in its journal at the end (``journal.points_to_journal``),
    each key's CSV and summary (the owner's, or read from the points after a crash). A
    key that a joined process also logged to a file is written beside that file and
    merged with it as staged files are."""
    found: dict[str, tuple[bytes, MetricSummary]] = {}
    for event in staged.events:
        key, text = event.get("key"), event.get("csv")
        if event.get("event") != POINTS_EVENT or not isinstance(key, str):
            continue
        if not isinstance(text, str):
            continue
        data = CSV_HEADER + text.encode("ascii", errors="replace")
        summary = summaries.get(key)
        if key in staged.metrics or key in found:
            path = run_dir / f"owner-{abs(hash(key))}.csv"
            path.write_bytes(data)
            metric = staged.metrics.setdefault(key, StagedMetric(key))
            metric.files.insert(0, path)
            metric.summaries.insert(0, None)
            found.pop(key, None)
            continue
        if summary is None:
            summary = MetricSummary()
            for step, stamp, value in layout.parse_metric_csv(data):
                summary.add(step, stamp, value)
        found[key] = (data, summary)
    return found


def _metric_content(metric: StagedMetric, run_dir: Path) -> tuple[FileContent, MetricSummary]:
    if len(metric.files) == 1 and metric.summaries[0] is not None:
        return metric.files[0], metric.summaries[0]
    if len(metric.files) == 1:
        return metric.files[0], summarize_file(metric.files[0])
    merged = run_dir / f"merged-{abs(hash(metric.key))}.csv"
    with merged.open("wb") as out:
        for index, path in enumerate(metric.files):
            with path.open("rb") as handle:
                if index:
                    handle.readline()  # each file has its own header
                while chunk := handle.read(1 << 20):
                    out.write(chunk)
    return merged, summarize_file(merged)


def summarize_file(path: Path) -> MetricSummary:
    """Summary of a metric CSV, streamed line by line so memory stays flat."""
    summary = MetricSummary()
    with path.open("rb") as handle:
        handle.readline()
        for line in handle:
            step, stamp, value = line.split(b",")
            summary.add(int(step), int(stamp), float(value))
    return summary


def _secret_scrubber(run_dir: Path) -> Scrubber:
    """Takes every secret the run redacted elsewhere, and token shapes, out of its logs and
    its recorded error before they are committed (see capture/scrub.py)."""
    from gitruns.capture.scrub import Scrubber, known_values

    return Scrubber(known_values(writer_dirs(run_dir)))


class _LazyScrubber:
    """The run's ``_secret_scrubber``, made when first needed: a run that neither failed
    nor has logs (any small API run) never reads its writers' remembered secrets."""

    def __init__(self, run_dir: Path) -> None:
        self._run_dir = run_dir
        self._scrubber: Scrubber | None = None

    def _get(self) -> Scrubber:
        if self._scrubber is None:
            self._scrubber = _secret_scrubber(self._run_dir)
        return self._scrubber

    def text(self, text: str) -> str:
        return self._get().text(text)

    def logs(self, folder: Path) -> None:
        if folder.is_dir():
            self._get().logs(folder)


def _extra_files(folder: Path) -> dict[str, FileContent]:
    if not folder.is_dir():
        return {}
    for suffix in TAIL_SUFFIXES:  # logs of a recorder that died: join head and tail
        for segment in list(folder.rglob("*" + suffix)):
            assemble(segment.with_name(segment.name[: -len(suffix)]))
    found: dict[str, FileContent] = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            full = Path(root) / name
            found[full.relative_to(folder).as_posix()] = full
    return found
