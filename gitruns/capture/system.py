"""System metrics of a running command, sampled on an interval in a background thread.

Keys (all floats): ``system/cpu_percent`` and ``system/rss_mb`` of the command's whole
process tree; system-wide ``system/memory_percent``, ``system/memory_used_mb``,
``system/disk_read_mb``, ``system/disk_write_mb``, ``system/net_sent_mb`` and
``system/net_recv_mb`` (I/O counted from the sampler's start); and per GPU ``i``
``system/gpu/<i>/utilization_percent``, ``memory_used_mb``, ``power_w``, ``temperature_c``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psutil

    from gitruns.capture.gpu import GpuSampler

Emit = Callable[[str, float], None]
CpuTimes = tuple[float, float, float]  # (create time, user s, system s), reaped children included
_MIB = 1024 * 1024
_FIRST_SAMPLE_S = 0.5  # long enough for a meaningful first cpu_percent


class ProcessTree:
    """CPU % and RSS summed over a process and all its descendants, found afresh each time.

    ``psutil.Process.cpu_percent`` measures against the previous call on the same object, so
    the objects are kept between samples; a process that appeared since the last sample
    counts its average since birth, so short-lived workers are not lost.
    """

    def __init__(self, pid: int, *, prime: bool = True) -> None:
        """``prime``: start measuring CPU % now; without it (a tree opened when its first
        sample is due), each process's first figure is its average since it started."""
        import psutil

        self._psutil = psutil
        self._root = psutil.Process(pid)
        self._cpu_limit = 100.0 * (psutil.cpu_count() or 1)
        self._known: dict[int, psutil.Process] = {}
        # Each member's CPU times at the last sample in which the root was alive: what
        # resource totals need (gitruns.capture.resources).
        self.member_times: dict[int, CpuTimes] = {}
        for process in self._members() if prime else []:
            try:
                process.cpu_percent(None)  # the priming call: the next one measures from here
                self._known[process.pid] = process
            except psutil.Error:
                continue

    def _members(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except self._psutil.Error:
            return []

    def _cpu(self, process: psutil.Process, new: bool) -> float:
        percent = process.cpu_percent(None)  # primes a new object, measures a known one
        if not new:
            return percent
        times = process.cpu_times()
        alive = max(time.time() - process.create_time(), 1e-3)
        return min(100.0 * (times.user + times.system) / alive, self._cpu_limit)

    def sample(self) -> dict[str, float] | None:
        """``{"cpu_percent", "rss_mb"}`` of the tree, or None once the root is gone."""
        if not self._root.is_running():  # reaped: no need to scan every process for children
            return None
        cpu = rss = 0.0
        seen: dict[int, psutil.Process] = {}
        times: dict[int, CpuTimes] = {}
        for process in self._members():
            previous = self._known.get(process.pid)
            new = previous is None or previous != process  # != also catches a reused pid
            known = process if new or previous is None else previous
            try:
                with known.oneshot():
                    cpu += self._cpu(known, new=new)
                    rss += known.memory_info().rss
                    times[process.pid] = cpu_times_of(known)
            except self._psutil.Error:
                continue  # exited or forbidden mid-sample: skip it
            seen[process.pid] = known
        self._known = seen
        if self._root.pid not in seen:
            return None
        self.member_times = times
        return {"cpu_percent": cpu, "rss_mb": rss / _MIB}


def cpu_times_of(process: psutil.Process) -> CpuTimes:
    """A process's create time and CPU seconds, including its children it has reaped."""
    times = process.cpu_times()
    user = times.user + getattr(times, "children_user", 0.0)
    system = times.system + getattr(times, "children_system", 0.0)
    return process.create_time(), user, system


class _Counters:
    """System-wide disk and network byte counters, as MiB since the first reading."""

    def __init__(self) -> None:
        self._base = self._read()

    @staticmethod
    def _read() -> dict[str, float]:
        import psutil

        values: dict[str, float] = {}
        disk = psutil.disk_io_counters()  # None where the kernel does not expose it
        if disk is not None:
            values.update(disk_read_mb=disk.read_bytes, disk_write_mb=disk.write_bytes)
        net = psutil.net_io_counters()
        if net is not None:
            values.update(net_sent_mb=net.bytes_sent, net_recv_mb=net.bytes_recv)
        return values

    def since_start(self) -> dict[str, float]:
        now = self._read()
        return {k: max(v - self._base[k], 0) / _MIB for k, v in now.items() if k in self._base}


class SampleObserver(Protocol):
    """Sees every sample besides ``emit`` (gitruns.capture.resources keeps totals)."""

    def opened(self, tree: ProcessTree | None, gpus: GpuSampler | None) -> None: ...

    def observe(
        self, values: dict[str, float], tree: ProcessTree | None, gpus: GpuSampler | None
    ) -> None: ...


class SystemSampler:
    """Samples the process tree of ``pid``, the system and the GPUs into ``emit(key, value)``.

    ``start()`` returns at once; the first sample comes within a second, then one every
    ``interval`` seconds; ``stop()`` takes a last sample and joins the thread. Nothing is
    raised into the caller: a failing sample is skipped and kept in ``last_error``.
    ``observer``, when given, sees NVML and the tree when they open and every sample.

    ``when_due``: the first sample comes after one ``interval`` (as W&B's), and psutil,
    NVML and the tree are opened only then; none is taken at all when ``stop()`` comes
    first: ``gitruns record`` of a command that ends sooner never imports psutil (15-20 ms
    of CPU). The I/O counters then count from the first sample, and each process's first
    CPU % is its average since it started.
    """

    def __init__(
        self,
        pid: int,
        interval: float,
        emit: Emit,
        observer: SampleObserver | None = None,
        *,
        when_due: bool = False,
    ) -> None:
        self.pid = pid
        self.interval = max(float(interval), 0.01)
        self.emit = emit
        self.observer = observer
        self.when_due = when_due
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._sampling = threading.Lock()  # sample_once() may also be called from outside
        self._thread = threading.Thread(target=self._run, name="gitruns-system", daemon=True)
        self._tree: ProcessTree | None = None
        self._counters: _Counters | None = None
        self._gpus: GpuSampler | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        wait = min(_FIRST_SAMPLE_S, self.interval)
        if self.when_due:
            if self._stop.wait(self.interval):
                return  # stopped before any sample was due: none taken, nothing opened
            self._guard(self._open)
            self._guard(self.sample_once)
            wait = self.interval
        else:
            self._guard(self._open)
        while not self._stop.wait(wait):
            self._guard(self.sample_once)
            wait = self.interval
        self._guard(self.sample_once)  # the last sample, at stop()
        if self._gpus is not None:
            self._guard(self._gpus.close)

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:  # never into the caller: a lost sample is not worth a crash
            self.last_error = exc

    def _open(self) -> None:
        # In the thread, not in start(): NVML and psutil can take a while to initialise.
        from gitruns.capture.gpu import GpuSampler

        self._counters = _Counters()
        try:
            self._tree = ProcessTree(self.pid, prime=not self.when_due)
        except Exception as exc:  # the process already ended: system-wide metrics only
            self.last_error = exc
        self._gpus = GpuSampler()
        if self.observer is not None:
            self.observer.opened(self._tree, self._gpus)

    def sample_once(self) -> None:
        """Take one sample now and emit it (also called by the thread)."""
        with self._sampling:
            values = self.readings()
            observer = self.observer
            if observer is not None:  # its failure must not cost the sample its metrics
                self._guard(lambda: observer.observe(values, self._tree, self._gpus))
            for key, value in values.items():
                self.emit(key, value)

    def readings(self) -> dict[str, float]:
        import psutil

        values: dict[str, float] = {}
        tree = self._tree.sample() if self._tree is not None else None
        if tree is not None:
            values.update({f"system/{k}": v for k, v in tree.items()})
        memory = psutil.virtual_memory()
        values["system/memory_percent"] = float(memory.percent)
        values["system/memory_used_mb"] = memory.used / _MIB
        if self._counters is not None:
            values.update({f"system/{k}": v for k, v in self._counters.since_start().items()})
        for index, readings in (self._gpus.sample() if self._gpus else {}).items():
            values.update({f"system/gpu/{index}/{k}": v for k, v in readings.items()})
        return values
