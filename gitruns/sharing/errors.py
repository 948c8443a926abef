"""Errors of sharing runs: each says what went wrong with the remote and what to do."""

from __future__ import annotations

from gitruns.errors import GitrunsError


class RemoteError(GitrunsError):
    """A remote that does not exist, cannot be reached, or failed a transfer."""


class AuthenticationError(RemoteError):
    """The remote refused our credentials (or git could not ask for them)."""


class HostRefusedError(RemoteError):
    """The host refuses refs/runs/* (a hook, hidden refs, a protected namespace)."""


class PushRejectedError(RemoteError):
    """Some runs were rejected as non-fast-forward: the remote has changes we lack."""

    def __init__(self, message: str, hint: str, run_ids: list[str]) -> None:
        super().__init__(message, hint)
        self.run_ids = run_ids


class UnpublishedCodeError(GitrunsError):
    """Pushing would publish code commits that no remote branch holds."""

    def __init__(self, message: str, hint: str, run_ids: list[str]) -> None:
        super().__init__(message, hint)
        self.run_ids = run_ids
