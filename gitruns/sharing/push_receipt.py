"""What the pre-push hook tells the ``gitruns push`` that started it: the run commits whose
artifacts it handled, so that the push does not look for artifacts in them a second time.

Under ``gitruns push`` with the hook of ``gitruns remote setup`` installed, both the hook's
``gitruns artifacts pre-push`` and the push itself read every pushed run's
``artifacts.yaml`` (about 45 ms of CPU at 10,000 runs). The hook's reading is the one that
must stay (a plain ``git push`` has only the hook); the push's is the one skipped.

How the push learns what the hook did, without trusting anything a user could set by
accident: before its ``git push``, the push creates an empty receipt file of its own,
``<git common dir>/gitruns/tmp/push-receipt-<pid>-<32 random hex>`` (``O_EXCL``, mode
0600), and names it in ``GITRUNS_PUSH_RECEIPT`` for that ``git push`` alone (its own value
replaces any the user's environment had). The hook appends the commits it handled, each
with the remote it was called for (``<commit>\t<remote>``), once it handled them all, and
only to a file that is exactly such a receipt: in this repository's ``gitruns/tmp``, named
as above by a live process, already there (never created by the hook), a regular file of
this user. After the push, the push reads its own receipt (the one it created, whatever the
variable said in the hook), trusts only the lines of its own remote (the hook of a nested
push to another remote could write there too), and removes it. A commit is an immutable
object, so "this commit's artifacts were handled by the hook" cannot go stale within the
push; a commit the receipt does not name (no hook, an older gitruns in the hook, a hook
that fails, could not upload or is not ours) is probed by the push as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV_RECEIPT = "GITRUNS_PUSH_RECEIPT"
_PREFIX = "push-receipt-"
# compiled on first use (re's cache): the push reads one receipt, the hook writes one
_NAME = r"push-receipt-([1-9][0-9]{0,9})-[0-9a-f]{32}"
_COMMIT = r"[0-9a-f]{40}(?:[0-9a-f]{24})?"


class PushReceipt:
    """The receipt of one ``gitruns push`` (a context manager: removed at its end)."""

    def __init__(self, gitruns_dir: Path) -> None:
        folder = os.path.join(gitruns_dir, "tmp")
        path = os.path.join(folder, f"{_PREFIX}{os.getpid()}-{os.urandom(16).hex()}")
        self.path: str | None = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError:  # a read-only repository: no receipt, the push probes every run
            return
        os.close(fd)
        self.path = path

    def __enter__(self) -> PushReceipt:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    @property
    def env(self) -> dict[str, str]:
        """The variables of the ``git push`` whose hook may write this receipt: the empty
        value when there is none (the user's own value never reaches the hook)."""
        return {ENV_RECEIPT: self.path or ""}

    def handled(self, remote: str) -> set[str]:
        """The commits the hook says it handled for ``remote``: each whole line that is one
        object id, a tab and that remote (a line cut short, or anything else, names
        nothing)."""
        if self.path is None:
            return set()
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return set()
        whole = data[: data.rfind(b"\n") + 1]  # what follows the last newline is cut short
        name = re.escape(remote.encode("utf-8", errors="surrogateescape"))
        found = re.findall(rb"(?m)^(" + _COMMIT.encode() + rb")\t" + name + rb"$", whole)
        return {commit.decode("ascii") for commit in found}


def record_handled(
    gitruns_dir: Path,
    remote: str,
    commits: Iterable[str],
    environ: Mapping[str, str] | None = None,
) -> bool:
    """In the hook: append ``commits`` (handled for ``remote``) to the receipt
    ``GITRUNS_PUSH_RECEIPT`` names, when it is a receipt a live ``gitruns push`` of this
    repository made (see the module's text); else write nothing. True when written."""
    value = (os.environ if environ is None else environ).get(ENV_RECEIPT)
    if not value or "\n" in remote:
        return False
    name = os.path.basename(value)
    named = re.fullmatch(_NAME, name)
    folder = os.path.join(gitruns_dir, "tmp")
    if named is None or not _same_folder(os.path.dirname(value), folder):
        return False
    if not _alive(int(named.group(1))):
        return False
    try:
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    except OSError:  # gone, a symlink, not ours: no receipt to write
        return False
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid():
            return False
        lines = "".join(f"{c}\t{remote}\n" for c in commits if re.fullmatch(_COMMIT, c))
        view = memoryview(lines.encode("utf-8", errors="surrogateescape"))
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def _same_folder(given: str, folder: str) -> bool:
    try:
        return os.path.samefile(given, folder)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # there, someone else's: the ownership check of the file decides
    return True
