"""Exceptions raised by the gitruns library.

Every error carries what happened and what to do about it; the CLI prints both as
``gitruns: error: <what>; <what to do>`` and exits 1. The library never prints or exits.
"""

from __future__ import annotations


class GitrunsError(Exception):
    """Base class of every error gitruns raises on purpose."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class RepositoryError(GitrunsError):
    """Not a git repository, or one gitruns cannot work with."""


class ReadOnlyRepositoryError(RepositoryError):
    """The repository may be read but not written (a shared checkout, a read-only mount)."""


class RunNotFoundError(GitrunsError):
    """No run matches the given reference."""


class AmbiguousRunError(GitrunsError):
    """A reference matches more than one run."""

    def __init__(
        self,
        ref: str,
        candidates: list[str],
        labels: list[str] | None = None,
        hint: str = "give more characters of the id, or the full id",
    ) -> None:
        named = labels if labels is not None else candidates
        shown = ", ".join(named[:10]) + (" ..." if len(named) > 10 else "")
        super().__init__(f"'{ref}' matches {len(candidates)} runs: {shown}", hint)
        self.candidates = candidates


class InvalidInputError(GitrunsError):
    """A key, value or parameter that cannot be recorded."""


class ParamConflictError(InvalidInputError):
    """A parameter was logged again with a different value."""


class RunStateError(GitrunsError):
    """The operation does not fit the run's state (no active run, run already ended)."""


class InvalidRunError(GitrunsError):
    """A stored run fails validation (schema, size limits, unsafe content)."""


class ConcurrentUpdateError(GitrunsError):
    """A ref kept changing under us and the retries ran out."""


class StorageWriteError(GitrunsError):
    """The disk refused a write (full, quota, read-only); nothing already written is lost."""


class SkippedRunsWarning(UserWarning):
    """Listing left out runs it could not read (``RunList.skipped`` names them and why)."""


class ArtifactError(GitrunsError):
    """An artifact cannot be found, transferred, verified or placed."""
