"""``gitruns fetch``: bring a remote's runs into refs/remote-runs/<remote>/, never forced,
then check the tree of every new or changed one (fetched runs are untrusted input).

The tree check (paths, links, submodules, sizes) is cheap and runs here; the metadata
check (schema, safe YAML) runs where a run is read: ``records.load_run`` before it is
shown, ``load_untrusted_run`` before ``pull`` merges it. A run failing either is skipped.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gitruns.format.layout import REMOTE_RUNS_PREFIX
from gitruns.runs.untrusted import DEFAULT_LIMITS, Limits, check_run_refs
from gitruns.sharing.gitcli import Echo, run_git, transport_error
from gitruns.sharing.reffiles import refs_under
from gitruns.sharing.refs import list_refs, list_refs_with_trees, under
from gitruns.sharing.remotes import fetch_refspec, require_fetchable

if TYPE_CHECKING:
    from gitruns.storage import Store

# Whatever the user's config says: with fetch.showForcedUpdates=false, git skips the
# ancestry check and takes a rewritten run as a fast-forward. git's own auto maintenance
# is left to the compaction that follows (``compact_in_background``).
_NEVER_FORCED = ("--show-forced-updates", "--no-auto-maintenance")
_REJECTED = re.compile(r"^\s*!\s+\[rejected\]\s+\S+\s+->\s+(\S+)\s+\((.*)\)\s*$", re.MULTILINE)


class FetchReport:
    """What a fetch did. A plain class, not a dataclass: importing dataclasses (inspect,
    ast, dis) costs about 10 ms of CPU at each ``gitruns fetch``."""

    def __init__(
        self,
        remote: str,
        new: list[str] | None = None,
        updated: list[str] | None = None,
        removed: list[str] | None = None,
        refused: list[tuple[str, str]] | None = None,
        invalid: list[tuple[str, str]] | None = None,
    ) -> None:
        self.remote = remote
        self.new = [] if new is None else new
        self.updated = [] if updated is None else updated
        self.removed = [] if removed is None else removed
        # Runs the remote rewrote (not a fast-forward): our copy is kept, theirs refused.
        self.refused = [] if refused is None else refused
        # Runs that failed validation: (ref name, why); their refs were dropped again.
        self.invalid = [] if invalid is None else invalid

    def __repr__(self) -> str:
        return f"FetchReport({self.__dict__!r})"


def fetch_runs(
    store: Store,
    remote: str,
    *,
    echo: Echo | None = None,
    prune: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> FetchReport:
    """Fetch ``remote``'s runs; ``prune`` drops copies of runs the remote no longer has
    (only under refs/remote-runs/<remote>/: a local run is never touched)."""
    require_fetchable(store, remote)
    store.require_writable()
    args = ["fetch", "--no-tags", "--no-write-fetch-head"]
    args += ["--prune"] if prune else []
    args += ["--progress"] if echo else []
    args += [remote, fetch_refspec(remote)]
    return fetch_into(store, remote, args, echo, limits)


def fetch_into(
    store: Store, label: str, args: list[str], echo: Echo | None, limits: Limits
) -> FetchReport:
    """Run a ``git fetch`` into refs/remote-runs/<label>/ and check what changed."""
    prefix = f"{REMOTE_RUNS_PREFIX}{label}/"
    # The ref files are read here when they are plain (see sharing.reffiles), else git lists
    # them: the same refs either way, a git process or two less.
    files = refs_under(store.common_dir, prefix)
    before = under(list_refs(store, prefix) if files is None else files, prefix)
    command = [*args[:1], *_NEVER_FORCED, *args[1:]]
    # Without a terminal to show them, git's lines (one a ref: 10,700 instructions each of
    # git's, 1.4 MB of stderr at 10,000 runs) are left out, as by raw `git fetch -q`. git
    # -q names no run it refused, so a fetch that failed without a fatal error is run
    # again aloud: the objects are here by then, and git only says which refs it refused.
    quiet = [] if echo else ["-q"]
    result = run_git(store, [*command[:1], *quiet, *command[1:]], echo=echo)
    if result.returncode != 0 and quiet and "fatal:" not in result.stderr:
        result = run_git(store, command, echo=echo)
    rejected = _REJECTED.findall(result.stderr) if "[rejected]" in result.stderr else []
    refused = [(m[0], m[1]) for m in rejected]
    if result.returncode != 0 and not refused:
        raise transport_error(label, "fetch", result.stderr)
    files = refs_under(store.common_dir, prefix)
    root_trees: dict[str, str | None] | None = None  # the check reads the commits itself
    if files is None:
        files, root_trees = list_refs_with_trees(store, prefix)
    after = under(files, prefix)
    report = FetchReport(label, refused=refused)
    report.new = sorted(i for i in after if i not in before)
    report.updated = sorted(i for i in after if i in before and before[i] != after[i])
    report.removed = sorted(i for i in before if i not in after)
    changed = [*report.new, *report.updated]
    report.invalid = drop_invalid(store, label, changed, after, limits, root_trees)
    bad = {ref.removeprefix(prefix) for ref, _ in report.invalid}
    report.new = [i for i in report.new if i not in bad]
    report.updated = [i for i in report.updated if i not in bad]
    store.compact_in_background()  # a loose ref file a fetched run
    return report


def drop_invalid(
    store: Store,
    label: str,
    run_ids: list[str],
    refs: dict[str, str],
    limits: Limits,
    root_trees: dict[str, str | None] | None = None,
) -> list[tuple[str, str]]:
    """Check fetched runs' trees; drop the refs of unsafe ones; return (ref, why) for each.
    ``root_trees``: what ``list_refs_with_trees`` said of their commits, when known."""
    invalid = []
    drops: list[tuple[str, str, str | None]] = []
    names = {run_id: f"{REMOTE_RUNS_PREFIX}{label}/{run_id}" for run_id in run_ids}
    checked = [(names[i], i, refs[i]) for i in run_ids]
    failed = check_run_refs(store, checked, limits, root_trees)
    for run_id in run_ids:
        exc = failed.get(names[run_id])
        if exc is not None:
            invalid.append((names[run_id], str(exc.message)))
            drops.append((names[run_id], "", refs[run_id]))
    if drops:
        store.update_refs(drops)
    return invalid
