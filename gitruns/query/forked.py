"""Worker processes made by ``os.fork``, handed jobs and answering through pipes.

A cold build's workers (``cache.Workers``) used ``concurrent.futures.ProcessPoolExecutor``:
importing it (multiprocessing, concurrent.futures, logging, socket, pickle, tempfile) took
about 25 ms of every cold ``ls`` on one CPU, and the pool starts two threads and a queue
feeder of its own. Here each worker has a pipe its jobs come in by and a pipe its answers
go out by, both in ``marshal`` (jobs and rows are tuples, lists, text, bytes and numbers),
and the workers take turns writing by a token in a third pipe (``TokenLock``).

What a dead process leaves behind, said by the pipes rather than by a watcher thread:

- a worker that dies (``kill -9``, out of memory) closes its end of the answer pipe: the
  parent reads end-of-file there, whether it waits for an answer or for the token, and
  raises ``BrokenWorkers``; ``close`` then ends the other workers. A worker killed while
  it held the token never gives it back, but nobody waits for it in vain: the parent
  stops at that end-of-file, and the others are ended by ``close``.
- a parent that dies closes its end of the ``alive`` pipe, which only it holds: a worker
  waiting for the token, or for a job, ends at once.

Nothing here decides what is safe to keep: the cache's build file is linked in only when
whole (``query/build_file.py``), so a build that stops half-way leaves nothing served.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

_HEADER = struct.Struct("<cQ")  # kind (b"r" answer, b"e" exception), length
_MARSHAL_VERSION = 4


class BrokenWorkers(Exception):
    """A worker process died before answering (killed, out of memory)."""


def _readable(fds: list[int], timeout: float | None) -> list[int]:
    """Those of ``fds`` with something to read or at end-of-file, waiting up to
    ``timeout`` seconds (None: until one is). ``poll``, not ``select``: a process may hold
    descriptors past select's 1024 (the dashboard's connections)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    wait_ms = None if timeout is None else int(timeout * 1000)
    return [fd for fd, _ in poller.poll(wait_ms)]


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at end-of-file."""
    parts = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send(fd: int, kind: bytes, payload: bytes) -> None:
    _write_all(fd, _HEADER.pack(kind, len(payload)) + payload)


def _receive(fd: int) -> tuple[bytes, bytes] | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    kind, size = _HEADER.unpack(header)
    payload = _read_exactly(fd, size)
    return None if payload is None else (kind, payload)


class TokenLock:
    """A lock between the processes of one ``ForkedWorkers``: one byte in a pipe, taken by
    reading it and given back by writing it. Waiting for it also watches ``watch`` (the
    answer pipes in the parent, the ``alive`` pipe in a worker): ``on_watch`` is called
    with each one that becomes readable, and may raise."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)  # another process may take it first
        os.write(self._write, b"t")
        self.watch: list[int] = []
        self.on_watch: Callable[[int], None] = lambda fd: None

    def acquire(self) -> None:
        while True:
            try:
                if os.read(self._read, 1):
                    return
            except BlockingIOError:
                pass
            for fd in _readable([self._read, *self.watch], None):
                if fd != self._read:
                    self.on_watch(fd)

    def release(self) -> None:
        os.write(self._write, b"t")

    def __enter__(self) -> TokenLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class Job:
    """A job sent to one worker; its answer once ``done``."""

    def __init__(self, workers: ForkedWorkers, worker: _Worker) -> None:
        self._workers = workers
        self.worker = worker
        self._answer: tuple[bytes, bytes] | None = None

    def done(self) -> bool:
        if self._answer is None:
            self._workers._pull_ready(0.0)
        return self._answer is not None

    def result(self) -> Any:
        while self._answer is None:
            self._workers._pull_ready(None)
        kind, payload = self._answer
        if kind == b"e":
            import pickle  # only an error pays for it

            raise pickle.loads(payload)
        return marshal.loads(payload)


class _Worker:
    def __init__(self, pid: int, jobs: int, answers: int) -> None:
        self.pid = pid
        self.jobs = jobs  # this process writes jobs here
        self.answers = answers  # and reads answers here
        self.pending: deque[Job] = deque()  # in the order sent, as answered


class ForkedWorkers:
    """``count`` worker processes forked now, each running ``initializer(lock)`` once, then
    ``handler(*job)`` for every job sent to it, in turn, until ``close``. ``lock`` is
    shared by this process and the workers (see ``TokenLock``)."""

    def __init__(
        self,
        count: int,
        handler: Callable[..., Any],
        initializer: Callable[[TokenLock], None] | None = None,
    ) -> None:
        self.count = count
        self._initializer = initializer
        self.lock = TokenLock()
        self._alive_read, self._alive_write = os.pipe()  # only this process writes it
        self._workers: list[_Worker] = []
        self._closed = False
        try:
            for _ in range(count):
                self._workers.append(self._fork(handler))
        except BaseException:
            self.close(kill=True)
            raise
        self.lock.watch = [worker.answers for worker in self._workers]
        self.lock.on_watch = self._pull

    def _fork(self, handler: Callable[..., Any]) -> _Worker:
        job_read, job_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 1
            try:
                os.close(job_write)
                os.close(answer_read)
                os.close(self._alive_write)
                for worker in self._workers:  # the pipes of the workers forked before
                    os.close(worker.jobs)
                    os.close(worker.answers)
                if self._initializer is not None:
                    self._initializer(self.lock)
                _serve(handler, job_read, answer_write, self._alive_read, self.lock)
                code = 0
            finally:
                os._exit(code)
        os.close(job_read)
        os.close(answer_write)
        return _Worker(pid, job_write, answer_read)

    def submit(self, *job: Any) -> Job:
        """Send ``job`` (arguments marshal can write) to the worker with the fewest jobs."""
        worker = min(self._workers, key=lambda w: len(w.pending))
        sent = Job(self, worker)
        message = marshal.dumps(job, _MARSHAL_VERSION)
        try:
            _send(worker.jobs, b"j", message)
        except BrokenPipeError:
            raise BrokenWorkers(f"worker process {worker.pid} died") from None
        worker.pending.append(sent)
        return sent

    def wait_first(self, jobs: Iterable[Job]) -> None:
        """Return once one of ``jobs`` is done."""
        jobs = list(jobs)
        while jobs and not any(job.done() for job in jobs):
            self._pull_ready(None)

    def _pull_ready(self, timeout: float | None) -> None:
        """Take in the answers that came (waiting up to ``timeout``, None: for one)."""
        busy = [worker.answers for worker in self._workers if worker.pending]
        if not busy:
            return
        for fd in _readable(busy, timeout):
            self._pull(fd)

    def _pull(self, fd: int) -> None:
        worker = next(w for w in self._workers if w.answers == fd)
        answer = _receive(fd)
        if answer is None or not worker.pending:
            raise BrokenWorkers(f"worker process {worker.pid} died")
        worker.pending.popleft()._answer = answer

    def close(self, *, kill: bool = False) -> None:
        """End the workers: at once when ``kill`` (or when one died), else once they have
        answered every job sent; wait for each to exit."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            if kill or worker.pending:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
            os.close(worker.jobs)  # end-of-file: an idle worker exits
        os.close(self._alive_write)
        os.close(self._alive_read)
        for worker in self._workers:
            os.waitpid(worker.pid, 0)
            os.close(worker.answers)
        self.lock.close()


def _serve(
    handler: Callable[..., Any], jobs: int, answers: int, alive: int, lock: TokenLock
) -> None:
    """A worker's life: take jobs in order and answer each. A thread reads the jobs as
    they come, so the parent never waits for this process to finish one before it can
    send the next (a job of 500 runs is bigger than a pipe holds)."""
    lock.watch = [alive]
    lock.on_watch = _parent_gone
    queue: deque[bytes | None] = deque()
    arrived = threading.Condition()

    def read_jobs() -> None:
        while True:
            message = _receive(jobs)
            with arrived:
                queue.append(None if message is None else message[1])
                arrived.notify()
            if message is None:
                return

    threading.Thread(target=read_jobs, daemon=True).start()
    while True:
        with arrived:
            while not queue:
                arrived.wait()
            payload = queue.popleft()
        if payload is None:
            return
        try:
            answer = marshal.dumps(handler(*marshal.loads(payload)), _MARSHAL_VERSION)
            kind = b"r"
        except Exception as exc:
            answer, kind = _pickled(exc), b"e"
        _send(answers, kind, answer)


def _parent_gone(fd: int) -> None:
    os._exit(1)


def _pickled(exc: Exception) -> bytes:
    import pickle

    try:
        return pickle.dumps(exc)
    except Exception:
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
