"""Who ran a run and where from, as recorded: the OS user and host, and a remote URL
without the credentials it may embed.

Plain Python, so that a run can be started without libgit2 (``recording.git_probe``)
and record exactly what ``storage.Store`` records.
"""

from __future__ import annotations

import os

# getpass and socket are not imported: the answers below are theirs, and the two modules
# cost `gitruns record` 5-6 ms of CPU before its command starts (socket builds its enums)
_USER_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")  # getpass.getuser's, in order


def _os_user() -> str:
    """What ``getpass.getuser()`` answers: the first of its variables that is set, else the
    password database's name for this uid."""
    for variable in _USER_VARIABLES:
        user = os.environ.get(variable)
        if user:
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid())[0]
    except (ImportError, KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def host_name() -> str:
    """``socket.gethostname()``: the node name of ``uname`` where there is one."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


_USER_AND_HOST: dict[tuple[str | None, ...], tuple[str, str]] = {}


def os_user_and_host() -> tuple[str, str]:
    """The OS user (``getpass`` reads ``/etc/passwd`` when no variable names it) and the
    host name, read once a process for the variables ``getpass`` looks at."""
    names = tuple(os.environ.get(v) for v in _USER_VARIABLES)
    found = _USER_AND_HOST.get(names)
    if found is None:
        found = _USER_AND_HOST[names] = (_os_user(), host_name())
    return found


def strip_credentials(url: str) -> str:
    """Drop credentials embedded in a remote URL before it is recorded.

    An http(s) URL loses its whole user part: hosts take a token as the user name
    (``https://ghp_...@github.com/o/r.git``) as readily as a password. Other schemes
    (``ssh://git@host``) keep the user name and lose only a password.
    """
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    userinfo, host = authority.rsplit("@", 1)
    if scheme.lower() in ("http", "https", "ftp", "ftps"):
        return f"{scheme}://{host}{slash}{path}"
    if ":" in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}{slash}{path}"
    return url
