"""Several passes of bulk object reads through ONE ``git cat-file`` process.

A fetch's tree check reads in passes (commits, then folders level by level, then file
sizes), each pass's names known only from the one before. ``gitruns.runs.gitbatch`` starts a
``git cat-file`` a pass (a millisecond or two of CPU each to start); here one ``git cat-file
--batch-command --buffer`` (git 2.36 or later) serves them all: each pass is written as
``contents <id>`` (or ``info <id>``) lines and a ``flush``, and git answers nothing until that
flush, so writing a whole pass never waits on git's output. The answers are those of
``gitbatch.read_raw`` / ``gitbatch.raw_sizes``, in the same order, None for a missing
object. Where git is older (it refuses the option), every pass falls back to those.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from typing import IO, TYPE_CHECKING

from gitruns.runs.gitbatch import (
    BatchError,
    info_answers,
    raw_info,
    raw_sizes,
    read_raw,
    scratch_file,
)

if TYPE_CHECKING:
    from gitruns.runs.gitbatch import GitDir

_USAGE = 129  # git's exit status for an option it does not know
_CHUNK = 1 << 20
# An answer of ``info`` for an object that is there: "<id> <type> <size>".
_SIZE = re.compile(rb"^[0-9a-f]+ [a-z]+ ([0-9]+)\n", re.MULTILINE)


class _Refused(Exception):
    """git exited on ``--batch-command`` itself: it is older than 2.36."""


class CatFileSession:
    """``read_raw`` and ``raw_sizes`` of ``gitbatch`` over one process; use it as a context
    manager (the process ends with it).

    ``without_ids``: git answers with the type and size of each object, not its id too
    (``--batch-command=%(objecttype) %(objectsize)``: 41 bytes less an answer, to write
    and to read); such a session reads with ``read_typed`` and ``sizes`` only."""

    def __init__(self, repo: GitDir, *, without_ids: bool = False) -> None:
        self.repo = repo
        self.without_ids = without_ids
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._per_pass = False  # git has no --batch-command: one process a pass
        self._answered = False  # a pass was read whole: git knows the option

    def __enter__(self) -> CatFileSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_typed(self, listing: bytes, count: int) -> list[tuple[bytes, bytes] | None]:
        """``(type, content)`` of each of the ``count`` objects named one a line in
        ``listing``, or None when one is missing: ``gitbatch.read_raw`` without the ids."""
        assert self.without_ids
        if not count:
            return []
        out = self._answers(b"contents ", listing, count)
        if out is not None:
            try:
                return self._framed(out, count)
            except _Refused:
                pass
        found = read_raw(self.repo, listing, count)
        return [None if obj is None else (obj[1], obj[2]) for obj in found]

    def _framed(self, out: int, count: int) -> list[tuple[bytes, bytes] | None]:
        """``(header, content)`` of the next ``count`` answers, the header being the answer's
        first line without its last word, the size (``<type>`` in a session without ids,
        else ``<id> <type>``); None for an object git has not (``<name> missing``, ``<name>
        ambiguous``). Parsed over what has come so far; the unparsed rest is carried to the
        next read."""
        found: list[tuple[bytes, bytes] | None] = []
        append, data, pos = found.append, b"", 0
        while True:
            find, end = data.find, len(data)
            while len(found) < count:
                stop = find(b"\n", pos)
                if stop < 0:
                    break
                header, _, size = data[pos:stop].rpartition(b" ")
                if not size.isdigit():
                    append(None)
                    pos = stop + 1
                    continue
                body_end = stop + 1 + int(size)
                if body_end + 1 > end:
                    break  # the content, then a newline, is still to come
                append((header, data[stop + 1 : body_end]))
                pos = body_end + 1
            if len(found) == count:
                break
            chunk = os.read(out, _CHUNK)
            if not chunk:
                raise self._stopped_short(data[pos:])
            data, pos = data[pos:] + chunk, 0
        self._answered = True
        return found

    def sizes(self, listing: bytes, count: int) -> list[int | None]:
        """``raw_sizes`` in a session ``without_ids``."""
        assert self.without_ids
        if not count:
            return []
        out = self._answers(b"info ", listing, count)
        if out is not None:
            try:
                data = self._line_bytes(out, count)
            except _Refused:
                return raw_sizes(self.repo, listing, count)
            # The usual case, in C: every answer is "<type> <size>" (a missing object's
            # "<name> missing" is two words too, whose second is no number).
            words = data.split()
            if len(words) == 2 * count:
                found = words[1::2]
                if b"".join(found).isdigit():
                    return list(map(int, found))
            answers = [line.partition(b" ")[2] for line in data.split(b"\n")[:count]]
            return [int(size) if size.isdigit() else None for size in answers]
        return raw_sizes(self.repo, listing, count)

    def read_raw(self, listing: bytes, count: int) -> list[tuple[bytes, bytes, bytes] | None]:
        """As ``gitbatch.read_raw(repo, listing, count)``."""
        assert not self.without_ids
        if not count:
            return []
        out = self._answers(b"contents ", listing, count)
        if out is not None:
            try:
                return self._contents(out, count)
            except _Refused:
                pass
        return read_raw(self.repo, listing, count)

    def _contents(self, out: int, count: int) -> list[tuple[bytes, bytes, bytes] | None]:
        # As gitbatch.read_raw parses one process's whole output: "<id> <type>" headers
        found: list[tuple[bytes, bytes, bytes] | None] = []
        for answer in self._framed(out, count):
            parts = answer[0].split(b" ") if answer is not None else []
            found.append((parts[0], parts[1], answer[1]) if len(parts) == 2 and answer else None)
        return found

    def raw_sizes(self, listing: bytes, count: int) -> list[int | None]:
        """As ``gitbatch.raw_sizes(repo, listing, count)``."""
        assert not self.without_ids
        if not count:
            return []
        out = self._answers(b"info ", listing, count)
        if out is not None:
            try:
                return self._sizes(out, count)
            except _Refused:
                pass
        return raw_sizes(self.repo, listing, count)

    def _sizes(self, out: int, count: int) -> list[int | None]:
        data = self._line_bytes(out, count)  # an answer a line
        # The usual case, in C: every answer is "<id> <type> <size>" (a missing object's
        # "<name> missing" is two words, so any such line leaves fewer than 3 a line).
        words = data.split()
        if len(words) == 3 * count:
            found = words[2::3]
            if b"".join(found).isdigit():
                return list(map(int, found))
        answers = data.split(b"\n")[:count]
        return [int(a.rsplit(b" ", 1)[1]) if _SIZE.match(a + b"\n") else None for a in answers]

    def raw_info(self, listing: bytes, count: int) -> list[tuple[bytes, bytes, int] | None]:
        """As ``gitbatch.raw_info(repo, listing, count)``: id, type and size, no content."""
        assert not self.without_ids
        if not count:
            return []
        out = self._answers(b"info ", listing, count)
        if out is not None:
            try:
                return info_answers(self._lines(out, count), count)
            except _Refused:
                pass
        return raw_info(self.repo, listing, count)

    def _lines(self, out: int, count: int) -> list[bytes]:
        """The next ``count`` lines of answers (an answer a line: ``info``)."""
        return self._line_bytes(out, count).split(b"\n")

    def _line_bytes(self, out: int, count: int) -> bytes:
        """The next ``count`` lines of answers, as git wrote them."""
        chunks: list[bytes] = []
        lines = 0
        while lines < count:
            chunk = os.read(out, _CHUNK)
            if not chunk:
                raise self._stopped_short(b"".join(chunks))
            chunks.append(chunk)
            lines += chunk.count(b"\n")
        self._answered = True
        return b"".join(chunks)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None and process.stdout is not None
            with contextlib.suppress(OSError):  # git already gone
                process.stdin.close()
            process.stdout.close()
            process.wait()
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def _answers(self, verb: bytes, listing: bytes, count: int) -> int | None:
        """Send one pass (``verb`` before each name, then a flush); the file descriptor its
        answers come on, or None when this git cannot keep a session (the caller reads the pass
        with a process of its own)."""
        if listing.count(b"\n") != count or not listing.endswith(b"\n"):
            raise BatchError("an object name holds a newline")
        if self._per_pass:
            return None
        process = self._process or self._start()
        assert process.stdin is not None and process.stdout is not None
        commands = verb + listing[:-1].replace(b"\n", b"\n" + verb) + b"\nflush\n"
        try:
            view, fd = memoryview(commands), process.stdin.fileno()
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            pass  # git stopped: its answers end short, and its exit status says why
        return process.stdout.fileno()

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.pop("GIT_DIR", None)
        env.pop("GIT_WORK_TREE", None)
        self._errors = scratch_file(self.repo.git_dir)
        option = "--batch-command"
        if self.without_ids:
            option += "=%(objecttype) %(objectsize)"
        self._process = subprocess.Popen(
            ["git", f"--git-dir={self.repo.git_dir}", "cat-file", option, "--buffer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # answers are read with os.read, in large pieces
            stderr=self._errors,
            env=env,
        )
        return self._process

    def _stopped_short(self, partial: bytes) -> Exception:
        """The answers ended early: _Refused when git never knew the option (no pass was
        answered, nothing came and git exited on usage), else what went wrong."""
        process = self._process
        first = not self._answered and not partial and process is not None
        if first and process is not None and process.wait() == _USAGE:
            self._per_pass = True
            self.close()
            return _Refused()
        message = ""
        if self._errors is not None:
            self._errors.seek(0)
            message = self._errors.read().decode("utf-8", errors="replace").strip()
        return BatchError(f"git cat-file stopped short{': ' + message if message else ''}")
