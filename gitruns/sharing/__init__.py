"""Sharing runs over any git remote: setup, push, fetch, pull (with annotation merges),
and bundles. The checks that fetched runs get are in ``gitruns.runs.untrusted``.

Transport is always the git CLI (the user's ssh config, agent, credential helpers and
proxies apply); nothing here forces a ref. See docs/sharing.md.

Names load on first use, so that ``gitruns push`` imports only what pushing needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "AuthenticationError": "errors",
    "HostRefusedError": "errors",
    "PushRejectedError": "errors",
    "RemoteError": "errors",
    "UnpublishedCodeError": "errors",
    "create_bundle": "bundle",
    "load_bundle": "bundle",
    "FetchReport": "fetch",
    "fetch_runs": "fetch",
    "IntegrateReport": "pull",
    "integrate": "pull",
    "pull_runs": "pull",
    "PushReport": "push",
    "push_runs": "push",
    "setup_remote": "remotes",
    "undo_setup": "remotes",
}

if TYPE_CHECKING:
    from gitruns.sharing.bundle import create_bundle, load_bundle
    from gitruns.sharing.errors import (
        AuthenticationError,
        HostRefusedError,
        PushRejectedError,
        RemoteError,
        UnpublishedCodeError,
    )
    from gitruns.sharing.fetch import FetchReport, fetch_runs
    from gitruns.sharing.pull import IntegrateReport, integrate, pull_runs
    from gitruns.sharing.push import PushReport, push_runs
    from gitruns.sharing.remotes import setup_remote, undo_setup


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gitruns.sharing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gitruns.sharing.{module}"), name)


__all__ = [
    "AuthenticationError",
    "FetchReport",
    "HostRefusedError",
    "IntegrateReport",
    "PushRejectedError",
    "PushReport",
    "RemoteError",
    "UnpublishedCodeError",
    "create_bundle",
    "fetch_runs",
    "integrate",
    "load_bundle",
    "pull_runs",
    "push_runs",
    "setup_remote",
    "undo_setup",
]
