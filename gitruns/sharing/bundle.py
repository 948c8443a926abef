"""Runs on a USB stick: ``git bundle`` files for machines with no network between them.

A bundle holds the runs and everything they reach (their code commits included), so it
loads into any clone of the project, or even an empty repository. Loading fetches into the
transit namespace refs/remote-runs/bundle/, checks each run like any fetched run, brings
the valid ones into refs/runs/ exactly as ``gitruns pull`` does, then clears the transit refs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitruns.errors import GitrunsError
from gitruns.format.layout import REMOTE_RUNS_PREFIX, RUNS_PREFIX
from gitruns.runs.untrusted import DEFAULT_LIMITS, Limits
from gitruns.sharing.fetch import FetchReport, fetch_into
from gitruns.sharing.gitcli import Echo, run_git
from gitruns.sharing.pull import IntegrateReport, integrate
from gitruns.sharing.refs import list_refs
from gitruns.storage import Store

BUNDLE_LABEL = "bundle"


def create_bundle(
    store: Store, path: str | os.PathLike[str], run_ids: list[str] | None = None
) -> int:
    """Write ``run_ids`` (default: every local run) into a bundle file; return the count."""
    local = store.run_refs()
    chosen = sorted(local) if run_ids is None else run_ids
    if not chosen:
        raise GitrunsError("there are no runs to bundle", "record a run first")
    target = Path(path).resolve()
    refs = "".join(f"{RUNS_PREFIX}{i}\n" for i in chosen).encode()
    result = run_git(store, ["bundle", "create", "-q", str(target), "--stdin"], stdin=refs)
    if result.returncode != 0:
        raise GitrunsError(
            f"git bundle create failed: {result.stderr.strip()}", f"check that {target} is writable"
        )
    return len(chosen)


@dataclass
class LoadReport:
    fetched: FetchReport
    integrated: IntegrateReport


def load_bundle(
    store: Store,
    path: str | os.PathLike[str],
    *,
    echo: Echo | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadReport:
    """Load the runs of a bundle file into refs/runs/ (new, fast-forwarded or merged)."""
    source = Path(path).resolve()
    if not source.is_file():
        raise GitrunsError(f"no bundle file at {source}", "give the path of a 'gitruns bundle'")
    verify = run_git(store, ["bundle", "verify", "-q", str(source)])
    if verify.returncode != 0 and not _is_bundle(source):
        raise GitrunsError(
            f"{source} is not a git bundle",
            "give a file made by 'gitruns bundle create' (or git bundle create)",
        )
    if verify.returncode != 0:
        raise GitrunsError(
            f"{source} cannot be loaded here: {verify.stderr.strip()}",
            "it needs commits this repository lacks: fetch the project's code first, "
            "or make the bundle on a machine whose history this one shares",
        )
    _clear_transit(store)
    refspec = f"{RUNS_PREFIX}*:{REMOTE_RUNS_PREFIX}{BUNDLE_LABEL}/*"
    args = ["fetch", "--no-tags", "--no-write-fetch-head", str(source), refspec]
    integrated = None
    try:
        fetched = fetch_into(store, BUNDLE_LABEL, args, echo, limits)
        integrated = integrate(store, BUNDLE_LABEL, limits)
    finally:
        # A run refused for unrelated history stays visible (origin "bundle") until the
        # next load; the bundle file still holds it.
        _clear_transit(
            store, keep={ref for _, ref in integrated.unrelated} if integrated else set()
        )
    return LoadReport(fetched, integrated)


BUNDLE_SIGNATURES = (b"# v2 git bundle\n", b"# v3 git bundle\n")


def _is_bundle(path: Path) -> bool:
    """A git bundle starts with its signature line (git's bundle-format.txt)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(32)
    except OSError:
        return False
    return head.startswith(BUNDLE_SIGNATURES)


def _clear_transit(store: Store, keep: set[str] | None = None) -> None:
    """Delete every ref under the transit prefix but ``keep``, run refs or not (a bundle
    may carry ``refs/runs/evil/<id>``, which lands at ``.../bundle/evil/<id>``)."""
    refs = list_refs(store, f"{REMOTE_RUNS_PREFIX}{BUNDLE_LABEL}/")
    store.update_refs([(name, "", c) for name, c in refs.items() if name not in (keep or ())])
