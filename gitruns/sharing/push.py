"""``gitruns push``: send runs with the git CLI, never forced, one result per run."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.runs.catfile_session import CatFileSession
from gitruns.sharing.errors import (
    HostRefusedError,
    PushRejectedError,
    RemoteError,
    UnpublishedCodeError,
)
from gitruns.sharing.gitcli import Echo, run_git, transport_error
from gitruns.sharing.porcelain import RefUpdate, parse_push
from gitruns.sharing.reffiles import refs_under_each
from gitruns.sharing.refs import list_refs, under
from gitruns.sharing.remotes import PUSH_RUNS, require_remote

if TYPE_CHECKING:
    from gitruns.storage import Store

ALLOW_CONFIG = "gitruns.allowUnpublishedCode"
ANNOTATION_TRAILER = "Gitruns-Annotation:"
_MAX_REFSPECS_PER_CALL = 2000  # keeps the command line far below ARG_MAX


class PushReport:
    """What a push did. A plain class, not a dataclass: see ``sharing.fetch.FetchReport``."""

    def __init__(
        self,
        remote: str,
        updates: list[RefUpdate] | None = None,
        unpublished_code: list[str] | None = None,
        commits: dict[str, str] | None = None,
        trees: dict[str, str] | None = None,
    ) -> None:
        self.remote = remote
        self.updates = [] if updates is None else updates
        # Runs pushed although their code commit was on no branch of the remote (allowed).
        self.unpublished_code = [] if unpublished_code is None else unpublished_code
        # Every local run as this push listed it, {run id: commit}.
        self.commits = {} if commits is None else commits
        # The root tree of each run commit the code check read, {commit: tree}: what a
        # later read of a pushed run's files (its artifacts.yaml) starts from.
        self.trees = {} if trees is None else trees

    def __repr__(self) -> str:
        return f"PushReport({self.__dict__!r})"

    def run_id(self, update: RefUpdate) -> str:
        return update.dst.removeprefix(RUNS_PREFIX)

    @property
    def pushed(self) -> list[RefUpdate]:
        return [u for u in self.updates if u.flag in " *+"]

    @property
    def up_to_date(self) -> list[RefUpdate]:
        return [u for u in self.updates if u.flag == "="]

    @property
    def rejected(self) -> list[RefUpdate]:
        return [u for u in self.updates if u.flag == "!"]

    def check(self) -> None:
        """Raise HostRefusedError or PushRejectedError when some runs did not go through."""
        refused = [u for u in self.rejected if u.rejected_by_remote]
        if refused:
            raise HostRefusedError(
                f"remote '{self.remote}' refused {len(refused)} run(s) "
                f"({refused[0].reason or 'no reason given'}): {_ids(self, refused)}",
                "the host does not accept refs/runs/*: ask its admins to allow that "
                "namespace (hooks, protected or hidden refs), push to another remote, "
                "or carry runs with 'gitruns bundle create'",
            )
        if self.rejected:
            ids = [self.run_id(u) for u in self.rejected]
            raise PushRejectedError(
                f"{len(ids)} run(s) changed on remote '{self.remote}' since you last fetched "
                f"({self.rejected[0].reason}): {_ids(self, self.rejected)}",
                f"run 'gitruns pull {self.remote}' to merge their annotations, then push again",
                ids,
            )


def push_runs(
    store: Store,
    remote: str,
    run_ids: list[str] | None = None,
    *,
    allow_unpublished_code: bool | None = None,
    echo: Echo | None = None,
    check: bool = True,
    objects: CatFileSession | None = None,
    push_env: Mapping[str, str] | None = None,
) -> PushReport:
    """Push ``run_ids`` (default: every local run) to ``remote``; never forced.

    Refuses with UnpublishedCodeError when a run's code commit is on no branch of the
    remote, unless ``allow_unpublished_code`` (or git config gitruns.allowUnpublishedCode).
    ``objects``: the ``git cat-file`` session the runs' commits are read through (the
    caller's, to read more after the push in the same process), else one of its own.
    ``push_env``: variables for the ``git push`` and its hooks (``sharing.push_receipt``).
    """
    require_remote(store, remote)
    refs = _push_refs(store, remote)
    local = under(refs, RUNS_PREFIX)
    known = under(refs, f"{REMOTE_RUNS_PREFIX}{remote}/")
    candidates = _candidates(local, known, run_ids)
    published = set(known.values()) | set(under(refs, f"refs/remotes/{remote}/").values())
    allowed: list[str] = []
    trees: dict[str, str] = {}
    try:
        with contextlib.ExitStack() as stack:
            reads = objects or stack.enter_context(CatFileSession(store))
            check_published_code(store, remote, candidates, published, reads, trees)
    except UnpublishedCodeError as exc:
        if allow_unpublished_code is None:
            allow_unpublished_code = _config_true(store.config_value(ALLOW_CONFIG))
        if not allow_unpublished_code:
            require_reachable(store, remote)  # unreachable: say that, not "unpublished"
            raise
        allowed = exc.run_ids  # allowed, and reported so that the CLI can say so
    if run_ids is None:
        refspec_lists = [[PUSH_RUNS]] if local else []
    else:
        specs = [f"{RUNS_PREFIX}{i}:{RUNS_PREFIX}{i}" for i in run_ids]
        step = _MAX_REFSPECS_PER_CALL
        refspec_lists = [specs[n : n + step] for n in range(0, len(specs), step)]
    report = PushReport(remote, unpublished_code=allowed, commits=local, trees=trees)
    for refspecs in refspec_lists:
        report.updates.extend(_push(store, remote, refspecs, echo, push_env))
    if check:
        report.check()
    return report


def _push_refs(store: Store, remote: str) -> dict[str, str]:
    """The local runs, the runs last fetched from ``remote`` and its remote-tracking
    branches, ``{full ref name: commit}``: read from git's ref files where they are plain
    (``sharing.reffiles``; a clone's ``refs/remotes/<r>/HEAD`` included), else listed by
    one ``git for-each-ref``. The same refs either way, a git process less."""
    tracking = f"refs/remotes/{remote}/"
    prefixes = (RUNS_PREFIX, f"{REMOTE_RUNS_PREFIX}{remote}/", tracking)
    refs = refs_under_each(store.common_dir, prefixes, symbolic=[tracking])
    return list_refs(store, *prefixes) if refs is None else refs


def _candidates(
    local: dict[str, str], known: dict[str, str], run_ids: list[str] | None
) -> dict[str, str]:
    """The runs this push may send: those whose commit differs from the remote's copy
    as last fetched (all of them when nothing was fetched)."""
    if run_ids is not None:
        missing = [i for i in run_ids if i not in local]
        if missing:
            raise RemoteError(f"no local run {missing[0]}", "list runs with 'gitruns ls'")
        return {i: local[i] for i in run_ids if known.get(i) != local[i]}
    return {i: c for i, c in local.items() if known.get(i) != c}


def check_published_code(
    store: Store,
    remote: str,
    runs: dict[str, str],
    published: set[str],
    objects: CatFileSession | None = None,
    trees: dict[str, str] | None = None,
) -> None:
    """Raise UnpublishedCodeError naming the runs whose code commit the remote lacks.

    ``published`` are the tips known to be on the remote (its remote-tracking branches and
    the runs fetched from it): a commit they reach is published. ``objects`` and
    ``trees``: as ``code_parents``.
    """
    code = code_parents(store, runs, objects, trees)
    # A code commit that is itself a published tip (the usual case: runs made on the
    # branch tip that was pushed) is published; only the others need ``git rev-list``.
    wanted = {c for c in code.values() if c and c not in published}
    if not wanted:
        return
    unpublished = store.unreachable(wanted, published)
    if not unpublished:
        return
    ids = sorted(i for i, c in code.items() if c in unpublished)
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    commits = ", ".join(sorted(c[:12] for c in unpublished)[:5])
    raise UnpublishedCodeError(
        f"{len(ids)} run(s) ran on code that is on no branch of '{remote}' (commits "
        f"{commits}: unpushed commits or uncommitted changes); pushing them would publish "
        f"that code: {shown}",
        f"push the code first (git push {remote}), or allow it with "
        f"--allow-unpublished-code (or git config {ALLOW_CONFIG} true)",
        ids,
    )


def code_parents(
    store: Store,
    tips: dict[str, str],
    objects: CatFileSession | None = None,
    trees: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """``Store.code_parent`` of many runs (``{run id: tip}``), their tips read in one bulk
    ``git cat-file`` (through ``objects`` when given): a run never annotated (the usual case)
    costs no other read; the tips of annotated runs are followed one by one, as
    ``code_parent`` does. ``trees``, when given, gets the root tree of each tip read."""
    unique = sorted(set(tips.values()))
    listing = "".join(f"{tip}\n" for tip in unique).encode()
    with contextlib.ExitStack() as stack:
        reads = objects or stack.enter_context(CatFileSession(store))
        found = dict(zip(unique, reads.read_raw(listing, len(unique)), strict=True))
    facts = {tip: _tip_facts(obj) for tip, obj in found.items()}
    if trees is not None:
        trees.update((tip, fact[2]) for tip, fact in facts.items() if fact is not None)
    code: dict[str, str | None] = {}
    for run_id, tip in tips.items():
        fact = facts[tip]
        if fact is None or fact[1]:  # not read as a plain commit, or annotated
            code[run_id] = store.code_parent(tip, ANNOTATION_TRAILER)
        else:
            code[run_id] = fact[0]
    return code


_TRAILER = ANNOTATION_TRAILER.encode()


def _tip_facts(obj: tuple[bytes, bytes, bytes] | None) -> tuple[str | None, bool, str] | None:
    """A raw commit's first parent, whether its message holds the annotation trailer, and
    its root tree; None for anything that is not a commit as git writes one (``tree`` first,
    then the parents)."""
    if obj is None or obj[1] != b"commit":
        return None
    data = obj[2]
    end = data.find(b"\n")
    if not data.startswith(b"tree ") or end < 0:
        return None
    body = data.find(b"\n\n")
    parent = None
    if data.startswith(b"parent ", end + 1):
        stop = data.find(b"\n", end + 1)
        if stop < 0:
            return None
        parent = data[end + 8 : stop].decode("ascii", errors="replace")
    elif data.find(b"\nparent ", end, body if body >= 0 else len(data)) >= 0:
        return None  # a parent further down: not as git writes a commit
    annotated = body >= 0 and data.find(_TRAILER, body + 2) >= 0
    return parent, annotated, data[5:end].decode("ascii", errors="replace")


def require_reachable(store: Store, remote: str) -> None:
    """Raise the transport error (cannot reach, credentials refused) when ``remote`` does
    not answer. Asked only before refusing a push for unpublished code: a remote that
    cannot be reached has no branches we know of, so all code looks unpublished."""
    result = run_git(store, ["ls-remote", "--heads", remote])
    if result.returncode != 0:
        raise transport_error(remote, "push", result.stderr)


def _push(
    store: Store,
    remote: str,
    refspecs: list[str],
    echo: Echo | None,
    env: Mapping[str, str] | None = None,
) -> list[RefUpdate]:
    """One ``git push``. It records nothing under refs/remote-runs/<r>/ (writing a loose
    ref per pushed run costs as much as the push itself); ``gitruns fetch`` does, and git
    does on its own once ``gitruns remote setup`` configured the fetch refspec."""
    progress = ["--progress"] if echo else []
    args = ["push", "--porcelain", *progress, remote, *refspecs]
    result = run_git(store, args, echo=echo, env_extra=env)
    updates = parse_push(result.stdout)
    if result.returncode != 0 and not updates:
        raise transport_error(remote, "push", result.stderr)
    return updates


def _ids(report: PushReport, updates: list[RefUpdate]) -> str:
    ids = [report.run_id(u) for u in updates]
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _config_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "on", "1")
