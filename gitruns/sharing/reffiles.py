"""The refs under one prefix read from the files of git's ref store, without a git process.

A fetch lists its remote's runs before and after ``git fetch``; ``git for-each-ref`` costs a
process (a millisecond or two of CPU) and, for the thousands of loose ref files a fetch
writes, more CPU than reading them here. What is read is what ``for-each-ref`` lists: loose
files under ``<common dir>/refs/...`` (they win over ``packed-refs``), then the sorted
``packed-refs``, read after them as git reads them (``git pack-refs`` writes the new
``packed-refs`` before it deletes the loose files, so a ref moving meanwhile is seen in one
or the other). Lock files (``*.lock``, a ref being written) are left out, as git does.

Anything that is not plain (a symbolic ref, a file that is not one object id, a name git
might read otherwise, a ``packed-refs`` not marked sorted, a file that cannot be read)
answers None, and the caller asks ``git for-each-ref``: the reader never guesses. The one
symbolic ref a caller may ask to have read is one that names another ref under the same
prefix (``refs/remotes/origin/HEAD``, which every clone has): it lists as that ref's value,
as ``for-each-ref`` lists it.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

# The patterns are compiled on first use, through re's own cache: compiling all of them
# cost every push and fetch 0.5 ms of imports, for some that only an odd folder needs.
# A ref name component as gitruns and git both read it the same way (run ids, remote names).
_PLAIN_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
_HEX = rb"(?!0+\n)(?:[0-9a-f]{40}|[0-9a-f]{64})\n"  # git: all zeros is broken
# Names and ref files of a whole folder at once (see _all_plain), by a file's length.
_PLAIN_NAMES = rf"(?:{_PLAIN_NAME}/)*"
_PLAIN_IDS = {41: rb"(?:(?!0{40}\n)[0-9a-f]{40}\n)*", 65: rb"(?:(?!0{64}\n)[0-9a-f]{64}\n)*"}
_PACKED_SORTED = rb"# pack-refs with:[^\n]* sorted(?: |\n)"


class _NotPlain(Exception):
    """Something ``git for-each-ref`` should read itself."""


def refs_under(common_dir: Path, prefix: str, *, symbolic: bool = False) -> dict[str, str] | None:
    """``{full ref name: object id}`` of the refs under ``prefix`` (``refs/.../``), or None
    when the files hold anything but plain refs (see the module's text). ``symbolic``: a
    loose symbolic ref naming a plain ref under ``prefix`` is read too."""
    return refs_under_each(common_dir, [prefix], symbolic=[prefix] if symbolic else [])


def refs_under_each(
    common_dir: Path, prefixes: Sequence[str], *, symbolic: Sequence[str] = ()
) -> dict[str, str] | None:
    """``refs_under`` of several prefixes at once (``packed-refs`` read once), merged; None
    when any of them holds anything but plain refs. ``symbolic``: the prefixes whose
    symbolic refs are read (see ``refs_under``)."""
    for prefix in prefixes:
        if not prefix.startswith("refs/") or not prefix.endswith("/"):
            return None
        parts = prefix[len("refs/") : -1].split("/")
        if not all(re.fullmatch(_PLAIN_NAME, part) for part in parts):
            return None
    found: dict[str, str] = {}
    try:
        read: list[tuple[str, dict[str, str], dict[str, str] | None]] = []
        for prefix in prefixes:
            links: dict[str, str] | None = {} if prefix in symbolic else None
            loose: dict[str, str] = {}
            _read_loose(os.path.join(common_dir, *prefix.split("/")), prefix, loose, links)
            read.append((prefix, loose, links))
        # Only now packed-refs: a ``git pack-refs`` between the two readings has renamed in
        # a packed-refs holding the loose refs it then deleted (read first, it would not).
        packed = _packed_data(os.path.join(common_dir, "packed-refs"))
        for prefix, loose, links in read:
            under = _read_packed(packed, prefix)
            under.update(loose)
            for name, target in (links or {}).items():
                if target not in under:
                    return None  # dangling, or naming another symbolic ref: git resolves it
                under[name] = under[target]
            found.update(under)
    except (_NotPlain, OSError, UnicodeDecodeError):
        return None
    return found


def _read_loose(
    folder: str, prefix: str, found: dict[str, str], links: dict[str, str] | None = None
) -> None:
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return  # no loose ref there (a fresh clone, or every ref packed)
    try:
        names, contents = _ref_files(folder_fd, folder, prefix, found, links)
    finally:
        os.close(folder_fd)
    if links is None and _all_plain(names, contents):
        ids = b"".join(contents).decode("ascii").splitlines()
        found.update(zip([prefix + name for name in names], ids, strict=True))
        return
    for name, content in zip(names, contents, strict=True):  # find what is not plain
        if not re.fullmatch(_PLAIN_NAME, name):
            raise _NotPlain(name)
        if links is not None and content.startswith(b"ref: "):
            links[prefix + name] = _link_target(content, prefix)
            continue
        if not re.fullmatch(_HEX, content):
            raise _NotPlain(name)  # "ref: ..." (symbolic), or not one object id
        found[prefix + name] = content[:-1].decode("ascii")


def _ref_files(
    folder_fd: int, folder: str, prefix: str, found: dict[str, str], links: dict[str, str] | None
) -> tuple[list[str], list[bytes]]:
    """The names and contents (up to 80 bytes) of the files in a folder of loose refs; its
    subfolders read into ``found`` (and ``links``) by ``_read_loose``. Each file is opened
    by its name in the folder already open: three system calls a ref, the least a read
    costs (a fetch of 10,000 runs reads 10,000 new files)."""
    names: list[str] = []
    contents: list[bytes] = []
    with os.scandir(folder_fd) as entries:
        for entry in entries:
            name = entry.name
            if name.endswith(".lock"):
                continue  # a ref being written: git lists it from where it was
            if entry.is_dir(follow_symlinks=False):
                if not re.fullmatch(_PLAIN_NAME, name):
                    raise _NotPlain(name)
                _read_loose(os.path.join(folder, name), f"{prefix}{name}/", found, links)
                continue
            if not entry.is_file(follow_symlinks=False):
                raise _NotPlain(name)  # a symlink (an old-style symbolic ref), a socket...
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=folder_fd)
            except FileNotFoundError:
                continue  # packed meanwhile: packed-refs, read next, holds it
            try:
                contents.append(os.read(fd, 80))
            finally:
                os.close(fd)
            names.append(name)
    return names, contents


def _all_plain(names: list[str], contents: list[bytes]) -> bool:
    """Every name plain and every file one object id and a newline, all of one length (so
    that the joined ids split back file by file): three passes in C, not a regex call a
    ref. False sends the caller through the files one by one, to find what is not."""
    if not names:
        return True
    sizes = set(map(len, contents))
    return (
        len(sizes) == 1
        and (ids := _PLAIN_IDS.get(sizes.pop())) is not None
        and re.fullmatch(ids, b"".join(contents)) is not None
        and re.fullmatch(_PLAIN_NAMES, "/".join(names) + "/") is not None  # no name holds /
    )


def _link_target(content: bytes, prefix: str) -> str:
    """The ref a symbolic ref file names, when it is a plain name under ``prefix``."""
    target = content[len(b"ref: ") :].decode("ascii")
    if not target.endswith("\n") or not target.startswith(prefix):
        raise _NotPlain(target)
    rest = target[len(prefix) : -1]
    if not all(re.fullmatch(_PLAIN_NAME, part) for part in rest.split("/")):
        raise _NotPlain(target)
    return target[:-1]


def _packed_data(path: str) -> bytes:
    """The whole ``packed-refs`` file (b"" when there is none), checked to be sorted."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return b""
    header_end = data.find(b"\n") + 1
    if data and (
        not data.startswith(b"#") or not re.compile(_PACKED_SORTED).match(data, 0, header_end)
    ):
        raise _NotPlain("packed-refs")  # git has written it sorted since 1.8
    if data and (data[-1:] != b"\n" or b"\n\n" in data):
        raise _NotPlain("packed-refs")  # cut short, or a blank line: git refuses the file
    return data


def _read_packed(data: bytes, prefix: str) -> dict[str, str]:
    """The refs under ``prefix`` of a sorted ``packed-refs`` (``_packed_data``): the lines
    between the first and the last that name one, each of them a plain ref (checked in one
    regex pass), a peeled line (``^<id>``, a tag's) allowed after each."""
    key = b" " + prefix.encode()
    first = data.find(key)
    if first < 0:
        return {}
    start = data.rfind(b"\n", 0, first) + 1
    end = data.find(b"\n", data.rfind(key)) + 1 or len(data)
    block = data[start:end].decode("ascii")  # plain names are ASCII: anything else is git's
    if not block.endswith("\n"):
        block += "\n"  # the file's last line
    if _packed_lines(prefix).fullmatch(block) is None:
        raise _NotPlain(prefix)  # a line that is not a plain ref under the prefix
    found: dict[str, str] = {}
    for line in block.split("\n"):
        if line and line[0] != "^":  # not the peeled value of the tag before it
            oid, _, name = line.partition(" ")
            found[name] = oid
    return found


@functools.lru_cache(maxsize=16)
def _packed_lines(prefix: str) -> re.Pattern[str]:
    """Lines of ``packed-refs`` that each name a plain ref under ``prefix`` (its components
    as ``_PLAIN_NAME``; the loop never backtracks: a dot or a slash says what comes next),
    each maybe followed by its peeled line."""
    segment = r"[A-Za-z0-9_-]"
    name = rf"[A-Za-z0-9]{segment}*(?:\.{segment}+|/[A-Za-z0-9]{segment}*)*"
    line = rf"(?:[0-9a-f]{{40}}|[0-9a-f]{{64}}) {re.escape(prefix)}{name}\n(?:\^[0-9a-f]+\n)?"
    return re.compile(rf"(?:{line})*")
