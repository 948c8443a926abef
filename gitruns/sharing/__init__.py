"""Sharing runs over any git remote: setup, push, fetch, pull (with annotation merges),
bundles, and the checks that fetched runs get before they are shown or merged.

Transport is always the git CLI (the user's ssh config, agent, credential helpers and
proxies apply); nothing here forces a ref. See docs/sharing.md.
"""

from __future__ import annotations

from gitruns.sharing.bundle import create_bundle, load_bundle
from gitruns.sharing.errors import (
    AuthenticationError,
    HostRefusedError,
    PushRejectedError,
    RemoteError,
    UnpublishedCodeError,
)
from gitruns.sharing.fetch import FetchReport, fetch_runs
from gitruns.sharing.integrate import IntegrateReport, integrate, pull_runs
from gitruns.sharing.push import PushReport, push_runs
from gitruns.sharing.remotes import setup_remote, undo_setup
from gitruns.sharing.validate import Limits, check_tree, load_untrusted_run

__all__ = [
    "AuthenticationError",
    "FetchReport",
    "HostRefusedError",
    "IntegrateReport",
    "Limits",
    "PushRejectedError",
    "PushReport",
    "RemoteError",
    "UnpublishedCodeError",
    "check_tree",
    "create_bundle",
    "fetch_runs",
    "integrate",
    "load_bundle",
    "load_untrusted_run",
    "pull_runs",
    "push_runs",
    "setup_remote",
    "undo_setup",
]
