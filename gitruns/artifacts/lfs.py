"""git-lfs as the transport: the git host's own LFS endpoint, the user's git credentials.

Uploads: ``git lfs push --object-id <remote>`` (plain ``git push`` uploads through git-lfs's
pre-push hook instead, see ``hook.py``). Downloads: ``git lfs fetch <remote> <commit>`` of a
throwaway commit whose tree holds one pointer file per wanted object, so that exactly those
objects are fetched (batched and parallel, resumed, each checked against its sha256 by
git-lfs) whatever the user's ``lfs.fetchinclude``/``lfs.fetchexclude`` say. The commit is
referenced by no ref; ``git gc`` removes it in time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence

from gitruns.errors import ArtifactError
from gitruns.format.lfs import pointer_text
from gitruns.sharing.gitcli import Echo, run_git
from gitruns.storage import FileContent, Store

INSTALL_HINT = (
    "install git-lfs (Debian/Ubuntu: apt install git-lfs; macOS: brew install git-lfs; "
    "see https://git-lfs.com)"
)


def lfs_installed() -> bool:
    """True when ``git lfs`` works: git finds the ``git-lfs`` program on PATH."""
    return shutil.which("git-lfs") is not None


def require_lfs() -> None:
    if not lfs_installed():
        raise ArtifactError(
            "git-lfs is not installed, so artifacts cannot travel by git", INSTALL_HINT
        )


def fetch_objects(
    store: Store, remote: str, objects: Sequence[tuple[str, int]], echo: Echo | None = None
) -> str:
    """Download ``(sha256, size)`` objects into the local LFS store; git-lfs's stderr."""
    require_lfs()
    if not objects:
        return ""
    files: dict[str, FileContent] = {sha: pointer_text(sha, size) for sha, size in objects}
    commit = store.create_run_commit(files, [], "gitruns: artifacts to fetch\n", time.time())
    args = ["-c", "lfs.fetchinclude=", "-c", "lfs.fetchexclude=", "lfs", "fetch", remote, commit]
    result = run_git(store, args, echo=echo)
    return result.stderr


def push_objects(
    store: Store,
    remote: str,
    digests: Sequence[str],
    echo: Echo | None = None,
    *,
    terminal: bool = False,
) -> None:
    """Upload objects of the local LFS store to ``remote``'s LFS endpoint (those the server
    already has are skipped by git-lfs). ``terminal``: git-lfs writes to our own stderr, so
    that it shows its progress meter (it shows none on a pipe)."""
    require_lfs()
    if not digests:
        return
    stdin = ("\n".join(digests) + "\n").encode()
    args = ["lfs", "push", "--object-id", "--stdin", remote]
    if terminal:
        done = subprocess.run(
            ["git", f"--git-dir={store.git_dir}", *args],
            cwd=store.workdir or store.git_dir,
            input=stdin,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        code, message = done.returncode, "see git-lfs's message above"
    else:
        result = run_git(store, args, echo=echo, stdin=stdin)
        code, message = result.returncode, _last_line(result.stderr)
    if code != 0:
        raise ArtifactError(
            f"git lfs push to '{remote}' failed ({message})",
            f"check that 'git push {remote}' works and that the host has Git LFS enabled",
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
