"""``gitruns pull``: make fetched runs local runs (refs/runs/<id>) so they can be annotated
and pushed again: copy new ones, fast-forward, merge diverged annotation histories."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitruns.errors import GitrunsError, InvalidRunError
from gitruns.format import layout, schema, yamlio
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX, TRASH_PREFIX
from gitruns.runs.model import read_run_yaml
from gitruns.runs.untrusted import DEFAULT_LIMITS, Limits, load_untrusted_run
from gitruns.sharing.fetch import FetchReport, fetch_runs
from gitruns.sharing.gitcli import Echo
from gitruns.sharing.merge import Conflict, Side, later, merge_documents
from gitruns.sharing.refs import list_refs, under
from gitruns.storage import FileContent, Store

ANNOTATION_TRAILER = "Gitruns-Annotation:"  # annotations and merges (annotate.TRAILER)
MERGE_TRAILER = "Gitruns-Annotation: merge"
CONFLICT_TRAILER = "Gitruns-Conflict"
_ZERO = "0" * 40


@dataclass
class IntegrateReport:
    added: list[str] = field(default_factory=list)
    fast_forwarded: list[str] = field(default_factory=list)
    merged: dict[str, list[Conflict]] = field(default_factory=dict)
    local_ahead: list[str] = field(default_factory=list)
    # Runs you deleted here (in the trash): pull does not bring them back.
    deleted_here: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    # Runs with a local run's id but none of its history: (run id, fetched ref). Neither
    # merged nor copied; the fetched copy stays under its ref for people to look at.
    unrelated: list[tuple[str, str]] = field(default_factory=list)


def integrate(store: Store, label: str, limits: Limits = DEFAULT_LIMITS) -> IntegrateReport:
    """Bring every valid run of refs/remote-runs/<label>/ into refs/runs/."""
    report = IntegrateReport()
    prefix = f"{REMOTE_RUNS_PREFIX}{label}/"
    refs = list_refs(store, RUNS_PREFIX, prefix, TRASH_PREFIX)
    local = under(refs, RUNS_PREFIX)
    trashed = under(refs, TRASH_PREFIX)
    simple: list[tuple[str, str, str | None]] = []
    for run_id, theirs in sorted(under(refs, prefix).items()):
        ours = local.get(run_id)
        if ours == theirs:
            continue
        if ours is None and run_id in trashed:
            report.deleted_here.append(run_id)
            continue
        if ours is not None and store.is_ancestor(theirs, ours):
            report.local_ahead.append(run_id)
            continue
        name = f"{REMOTE_RUNS_PREFIX}{label}/{run_id}"
        try:
            load_untrusted_run(store, name, run_id, theirs, limits)
        except InvalidRunError as exc:
            report.invalid.append((name, exc.message))
            continue
        if ours is not None and not same_run(store, ours, theirs):
            report.unrelated.append((run_id, name))
        elif ours is None or store.is_ancestor(ours, theirs):
            simple.append((run_id, theirs, ours))
        else:
            report.merged[run_id] = merge_run(store, run_id, theirs, label)
    _apply_simple(store, simple, report)
    return report


def same_run(store: Store, ours: str, theirs: str) -> bool:
    """True when both tips lead, along their annotations' first parents, to the one commit
    that recorded the run: a run's identity is its history, not its id (anyone can write
    a run.yaml with any id and any commit date, or a commit whose other parent is our run).
    Only such a copy is fast-forwarded or merged; its annotations are edits of our run."""
    root = store.run_root(ours, ANNOTATION_TRAILER)
    return store.run_root(theirs, ANNOTATION_TRAILER) == root


def _apply_simple(
    store: Store, moves: list[tuple[str, str, str | None]], report: IntegrateReport
) -> None:
    """New runs and fast-forwards in one transaction; one by one if something moved."""
    updates = [(f"refs/runs/{i}", new, old or _ZERO) for i, new, old in moves]
    if not store.update_refs(updates):
        moves = [m for m in moves if store.update_ref(m[0], m[1], m[2] or _ZERO)]
    for run_id, _new, old in moves:
        (report.added if old is None else report.fast_forwarded).append(run_id)


def merge_run(store: Store, run_id: str, theirs: str, label: str) -> list[Conflict]:
    """Merge ``theirs`` into the local run: a merge commit on refs/runs/<id>, retried
    if the local ref moves meanwhile. Returns the conflicts that the later side settled."""
    for _attempt in range(20):
        ours = store.run_commit(run_id)
        if ours is None:
            raise GitrunsError(f"run {run_id} disappeared during the merge", "run 'gitruns pull'")
        if store.is_ancestor(theirs, ours):
            return []
        files, conflicts = merged_files(store, run_id, ours, theirs)
        message = merge_message(run_id, label, conflicts)
        commit = store.commit_merge(ours, theirs, files, message)
        if store.update_ref(run_id, commit, ours):
            return conflicts
    raise GitrunsError(f"run {run_id} kept changing during the merge", "try again")


def merged_files(
    store: Store, run_id: str, ours: str, theirs: str
) -> tuple[dict[str, FileContent | None], list[Conflict]]:
    """The files that change ``ours``'s tree into the merge result."""
    base = store.merge_base(ours, theirs)
    our_side = _side(store, ours)
    their_side = _side(store, theirs)
    base_doc = _document(store, base) if base else None
    document, conflicts = merge_documents(base_doc, our_side, their_side)
    schema.validate("run", document, f"merge of run {run_id}")
    files: dict[str, FileContent | None] = {layout.RUN_FILE: yamlio.dump(document)}
    files.update(_merge_other_files(store, base, ours, theirs, later(our_side, their_side)))
    return files, conflicts


def _merge_other_files(
    store: Store, base: str | None, ours: str, theirs: str, winner: Side
) -> dict[str, FileContent | None]:
    """Files besides run.yaml, by blob: one side's change wins; both changed: the later."""
    old = store.file_ids(base) if base else {}
    mine, other = store.file_ids(ours), store.file_ids(theirs)
    changes: dict[str, FileContent | None] = {}
    for path in sorted(set(old) | set(mine) | set(other)):
        if path == layout.RUN_FILE or mine.get(path) == other.get(path):
            continue
        take_theirs = mine.get(path) == old.get(path) or (
            other.get(path) != old.get(path) and winner.commit == theirs
        )
        if take_theirs:
            changes[path] = store.read_file(theirs, path, 2**40) if path in other else None
    return changes


def _side(store: Store, commit: str) -> Side:
    _parents, _author, _message, when = store.commit_info(commit)
    document = _document(store, commit)
    if document is None:
        raise InvalidRunError(f"commit {commit[:12]} has no run.yaml", "it is not a gitruns run")
    return Side(document, commit, when)


def _document(store: Store, commit: str) -> dict[str, object] | None:
    return read_run_yaml(store, commit)


def merge_message(run_id: str, label: str, conflicts: list[Conflict]) -> str:
    """Subject, then trailers: one ``Gitruns-Conflict`` per settled conflict, then the
    ``Gitruns-Annotation: merge`` trailer that marks the commit as an annotation."""
    subject = f"merge: annotations of run {run_id} from {label}"
    trailers = [f"{CONFLICT_TRAILER}: {' '.join(c.describe().split())}" for c in conflicts]
    return "\n".join([subject, "", *trailers, MERGE_TRAILER]) + "\n"


def pull_runs(
    store: Store, remote: str, *, echo: Echo | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[FetchReport, IntegrateReport]:
    """``fetch_runs`` then ``integrate``: the remote's runs become local runs."""
    fetched = fetch_runs(store, remote, echo=echo, limits=limits)
    return fetched, integrate(store, remote, limits)
