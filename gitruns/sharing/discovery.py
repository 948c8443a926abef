"""Finding the repository of a push or fetch without a git process, where it is plainly a
normal worktree; anything else is left to ``git rev-parse`` (``sharing.lightrepo``).

``plain_worktree(start)`` answers what ``git rev-parse --absolute-git-dir --show-toplevel``
run in ``start`` prints (git 2.39's discovery, ``setup.c``) only when every step is the
plain one: from the real path of ``start`` up, each folder without a ``.git`` holds nothing
git could take for a repository (``HEAD``, ``objects``, ``refs``, ``commondir``) and lies on
the same file system; the first ``.git`` is a real folder (not a ``.git`` file of a linked
worktree or submodule, not a link) that git would take for a repository (a valid ``HEAD``,
``objects`` and ``refs`` folders, no ``commondir``); it and the worktree's top are owned by
this user (git's ``safe.directory`` check passes without config); its ``config`` file, read
line by line, has no ``core.bare`` but false, no ``core.worktree``, no ``extensions`` or
``include`` section, a format version of 0 or 1, nothing this reader cannot parse; and no
variable of the environment that changes discovery is set (only those in
``_HARMLESS_VARIABLES`` may be). Anything else, even what git would accept, gives None: the
caller asks git, which is always right, so this reader never needs to be.
"""

from __future__ import annotations

import os
import re
import stat

# Variables of git's that leave discovery alone (transport, identity, editors, tracing,
# where the global and system config live: the global config cannot change discovery,
# and safe.directory matters only for a repository this reader already leaves to git).
_HARMLESS_PREFIXES = ("GIT_SSL_", "GIT_SSH", "GIT_HTTP_", "GIT_CURL_", "GIT_TRACE")
_HARMLESS_VARIABLES = frozenset(
    {
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR",
        "GIT_PAGER",
        "GIT_ASKPASS",
        "GIT_TERMINAL_PROMPT",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_PROXY_COMMAND",
        "GIT_FLUSH",
    }
)
# What git could take for a repository in a folder without .git (a bare one, or the git dir
# itself when run inside it), and what makes a .git folder a linked worktree's.
_REPOSITORY_SIGNS = ("HEAD", "objects", "refs", "commondir")
_VALID_HEAD = re.compile(rb"ref: refs/|[0-9a-f]{40}")  # git's validate_headref, strictly
_HEADER = re.compile(r'\[([A-Za-z0-9.-]+)(\s+"(?:[^"\\]|\\.)*")?\]')
_KEY = re.compile(r"([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?")
_FALSE = frozenset({"false", "no", "off", "0"})


def plain_worktree(start: str) -> tuple[str, str] | None:
    """``(git dir, top of the worktree)`` as ``git rev-parse --absolute-git-dir
    --show-toplevel`` in ``start`` prints them, or None unless the repository is plainly a
    normal one (see the module's text): the caller then asks git."""
    euid = getattr(os, "geteuid", lambda: -1)()
    if euid < 0 or (euid == 0 and "SUDO_UID" in os.environ) or not _plain_environment():
        return None  # (git takes SUDO_UID's user for root's, for the ownership check)
    try:
        folder = os.path.realpath(start, strict=True)  # as git's getcwd() after chdir
        device = os.stat(folder).st_dev
        while True:
            git_dir = os.path.join(folder, ".git")
            try:
                found = os.lstat(git_dir)
            except FileNotFoundError:
                found = None
            if found is not None:
                if not stat.S_ISDIR(found.st_mode):
                    return None  # a .git file (linked worktree, submodule) or a link
                return _checked(folder, git_dir, found, euid)
            if any(os.path.lexists(os.path.join(folder, n)) for n in _REPOSITORY_SIGNS):
                return None  # maybe a bare repository, or inside a git dir
            parent = os.path.dirname(folder)
            if parent == folder or os.stat(parent).st_dev != device:
                return None  # no repository up to / or to the file system's edge
            folder = parent
    except (OSError, ValueError):
        return None


def _plain_environment() -> bool:
    return all(
        name in _HARMLESS_VARIABLES or name.startswith(_HARMLESS_PREFIXES)
        for name in os.environ
        if name.startswith("GIT_")
    )


def _checked(top: str, git_dir: str, found: os.stat_result, euid: int) -> tuple[str, str] | None:
    """The answer for a .git folder, when git would take it as is (else None)."""
    if found.st_uid != euid or os.lstat(top).st_uid != euid:
        return None  # another user's: git's safe.directory decides
    for folder in ("objects", "refs"):
        path = os.path.join(git_dir, folder)
        if not os.path.isdir(path) or not os.access(path, os.X_OK):
            return None  # git would look further up
    if os.path.lexists(os.path.join(git_dir, "commondir")):
        return None
    head = os.path.join(git_dir, "HEAD")
    if not stat.S_ISREG(os.lstat(head).st_mode):
        return None
    with open(head, "rb") as handle:
        if not _VALID_HEAD.match(handle.read(256)):
            return None
    try:
        with open(os.path.join(git_dir, "config"), encoding="utf-8") as handle:
            config = handle.read()
    except FileNotFoundError:
        config = ""  # git's defaults: format 0, not bare
    return (git_dir, top) if _plain_config(config) else None


def _plain_config(text: str) -> bool:
    """A repository's config that leaves discovery as it is (see the module's text)."""
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if raw.endswith("\\"):
            return False  # a value continued on the next line
        if not line or line[0] in "#;":
            continue
        header = _HEADER.fullmatch(line)
        if header is not None:
            name = header[1].lower()
            if name.startswith(("include", "extensions")):
                return False
            section = None if header[2] else name
            continue
        key = _KEY.fullmatch(line)
        if key is None:
            return False  # a header and a key on one line, or what this reader cannot read
        if section != "core":
            continue
        name, value = key[1].lower(), key[2]
        if name == "worktree":
            return False
        if name == "bare" and (value is None or value.lower() not in _FALSE):
            return False  # (a key alone means true)
        if name == "repositoryformatversion" and value not in ("0", "1"):
            return False
    return True
