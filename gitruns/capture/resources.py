"""Resource totals of a run: wall time, CPU time, peak memory, GPU use and energy, I/O.

A :class:`ResourceMeter` starts with the run. It watches the system sampler's samples (it
is a ``SampleObserver``) for what only sampling can see (GPU utilisation and memory, which
GPUs the run's processes are on, the memory of the whole process tree at once), and at
the end adds what the kernel counts exactly: for ``gitruns record``, the command's
resource usage from ``wait4`` (CPU time, peak RSS and disk I/O of the command and of every
descendant it waited for); for a run made through the API, this process's own
``getrusage``. :func:`resource_totals` turns it into the ``resources`` mapping of
``run.yaml`` (docs/resources.md says what each total means and how it is measured).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitruns.capture.gpu import GpuSampler
    from gitruns.capture.system import CpuTimes, ProcessTree

_MIB = 1024 * 1024
_BLOCK = 512  # Linux counts rusage block I/O in 512-byte units
_WH_MJ = 3.6e6  # millijoules in a watt-hour


# a plain class, not a dataclass nor a NamedTuple: less of `record`'s start-up
# (recording.git_probe.ProbedRepo)
class Usage:
    """What the kernel counted for a process and the descendants it waited for."""

    __slots__ = ("max_rss_bytes", "read_bytes", "system_s", "user_s", "write_bytes")

    def __init__(
        self,
        user_s: float,
        system_s: float,
        max_rss_bytes: int,  # the largest single process's peak, not a sum
        read_bytes: int | None,  # storage reads and writes; None where not counted in bytes
        write_bytes: int | None,
    ) -> None:
        self.user_s = user_s
        self.system_s = system_s
        self.max_rss_bytes = max_rss_bytes
        self.read_bytes = read_bytes
        self.write_bytes = write_bytes

    def minus(self, earlier: Usage) -> Usage:
        def delta(now: int | None, then: int | None) -> int | None:
            return None if now is None or then is None else max(now - then, 0)

        return Usage(
            max(self.user_s - earlier.user_s, 0.0),
            max(self.system_s - earlier.system_s, 0.0),
            self.max_rss_bytes,
            delta(self.read_bytes, earlier.read_bytes),
            delta(self.write_bytes, earlier.write_bytes),
        )


def usage_of(rusage: Any) -> Usage:
    """A ``resource.struct_rusage`` as Usage (ru_maxrss is KiB on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    linux = sys.platform.startswith("linux")
    return Usage(
        float(rusage.ru_utime),
        float(rusage.ru_stime),
        int(rusage.ru_maxrss) * scale,
        int(rusage.ru_inblock) * _BLOCK if linux else None,
        int(rusage.ru_oublock) * _BLOCK if linux else None,
    )


def own_usage() -> Usage:
    """This process and its waited-for children, as one Usage (API runs measure this)."""
    import resource

    mine = usage_of(resource.getrusage(resource.RUSAGE_SELF))
    children = usage_of(resource.getrusage(resource.RUSAGE_CHILDREN))
    reads = None if mine.read_bytes is None else mine.read_bytes + (children.read_bytes or 0)
    writes = None if mine.write_bytes is None else mine.write_bytes + (children.write_bytes or 0)
    return Usage(
        mine.user_s + children.user_s,
        mine.system_s + children.system_s,
        max(mine.max_rss_bytes, children.max_rss_bytes),
        reads,
        writes,
    )


def wait_with_usage(process: subprocess.Popen[bytes]) -> tuple[int, Usage | None]:
    """``process.wait()`` that also returns the kernel's usage of it (``os.wait4``).

    It holds the Popen's own wait lock, as ``Popen.wait`` does, so a ``poll()`` or
    ``send_signal()`` from a signal handler or another thread never reaps the child
    first. Where that is not possible the wait is a plain one and the usage None.
    """
    lock = getattr(process, "_waitpid_lock", None)
    if lock is None or not hasattr(os, "wait4"):
        return process.wait(), None
    with lock:
        if process.returncode is None:
            try:
                _pid, status, rusage = os.wait4(process.pid, 0)
            except ChildProcessError:  # someone else reaped it: no usage to be had
                rusage = None
            else:
                process.returncode = os.waitstatus_to_exitcode(status)
        else:
            rusage = None
    returncode = process.wait()  # a no-op once returncode is set
    return returncode, None if rusage is None else usage_of(rusage)


def _net_counters() -> tuple[int, int] | None:
    """Bytes sent and received by every interface of the system, as
    ``psutil.net_io_counters()`` sums them; on Linux read from ``/proc/net/dev`` as psutil
    does there, without importing it (15-20 ms of CPU a ``gitruns record``)."""
    if sys.platform.startswith("linux"):
        try:
            return _proc_net_dev(Path("/proc/net/dev").read_text())
        except (OSError, ValueError, IndexError):
            pass
    import psutil

    net = psutil.net_io_counters()
    return None if net is None else (int(net.bytes_sent), int(net.bytes_recv))


def _proc_net_dev(text: str) -> tuple[int, int]:
    """(sent, received) summed over the interfaces of ``/proc/net/dev`` (two header lines,
    then ``name: rx_bytes ... (8 receive fields) tx_bytes ...``)."""
    sent = received = 0
    for line in text.splitlines()[2:]:
        fields = line[line.rfind(":") + 1 :].split()
        received += int(fields[0])
        sent += int(fields[8])
    return sent, received


class _GpuStats:
    """What the samples showed of one GPU. (A plain class: a dataclass costs 0.5-1 ms of
    CPU to define, in every `record`, GPUs or not.)"""

    def __init__(self, index: int, identity: dict[str, str]) -> None:
        self.index = index
        self.identity = identity
        self.samples = 0
        self.utilization_sum = 0.0
        self.utilization_count = 0
        self.utilization_peak: float | None = None
        self.memory_peak_mb: float | None = None
        self.run_memory_peak_mb: float | None = None
        self.run_seen = False  # NVML listed one of the run's processes on it
        self.energy_first_mj: int | None = None
        self.energy_last_mj: int | None = None

    def add_readings(self, values: Mapping[str, float], alive: bool) -> None:
        prefix = f"system/gpu/{self.index}/"
        self.samples += 1
        busy = values.get(prefix + "utilization_percent")
        if busy is not None:
            self.utilization_peak = max(self.utilization_peak or 0.0, busy)
            if alive:  # the mean is over the run's life, not the idle sample after it
                self.utilization_sum += busy
                self.utilization_count += 1
        memory = values.get(prefix + "memory_used_mb")
        if memory is not None:
            self.memory_peak_mb = max(self.memory_peak_mb or 0.0, memory)

    def add_processes(self, listed: Mapping[int, int | None], pids: set[int]) -> None:
        mine = [listed[pid] for pid in pids if pid in listed]
        if not mine:
            return
        self.run_seen = True
        known = [m for m in mine if m is not None]
        if known:
            self.run_memory_peak_mb = max(self.run_memory_peak_mb or 0.0, sum(known) / _MIB)

    def energy_wh(self) -> float | None:
        first, last = self.energy_first_mj, self.energy_last_mj
        if first is None or last is None or last < first:
            return None  # no counter, or it went backwards (the driver was reloaded)
        return (last - first) / _WH_MJ


class ResourceMeter:
    """Totals of one run, measured from now on.

    ``pid`` is the recorded command (``gitruns record``; its usage comes from
    :func:`wait_with_usage`); None measures this process (a run made through the API).
    Pass it as ``observer`` to the run's ``SystemSampler`` for GPU totals and the memory
    of the whole tree; without one, totals hold what the kernel counts.
    """

    def __init__(self, pid: int | None = None, sample_interval: float | None = None) -> None:
        self.pid = pid if pid is not None else os.getpid()
        self.measures_self = pid is None
        self.sample_interval = sample_interval
        self.started = time.time()
        self._net_start = _net_counters()
        self._own_start = own_usage() if self.measures_self else None
        self._tree_start = _tree_times(self.pid) if self.measures_self else {}
        self._samples = 0
        self._tree_rss_peak = 0.0
        self._members: dict[int, CpuTimes] = {}  # every process seen in the tree
        self._gpus: dict[int, _GpuStats] = {}
        self._listing_failed = False  # some GPU could not list its processes
        self._foreign_pids = False  # NVML listed pids that do not exist here (a container)
        self._listed_once = False

    # -- SampleObserver ---------------------------------------------------------------------
    def opened(self, tree: ProcessTree | None, gpus: GpuSampler | None) -> None:
        if gpus is None:
            return
        for index, identity in gpus.identities().items():
            self._gpus[index] = _GpuStats(index, identity)
        for index, value in gpus.energy_mj().items():
            if index in self._gpus:
                self._gpus[index].energy_first_mj = value

    def observe(
        self, values: dict[str, float], tree: ProcessTree | None, gpus: GpuSampler | None
    ) -> None:
        self._samples += 1
        alive = "system/rss_mb" in values  # the tree was sampled: the run is still going
        if alive and tree is not None:
            self._tree_rss_peak = max(self._tree_rss_peak, values["system/rss_mb"])
            # Kept across samples: a process the command leaves behind is reparented as
            # the command exits, and the last samples no longer see it in the tree.
            self._members.update(tree.member_times)
        for stats in self._gpus.values():
            stats.add_readings(values, alive)
        if gpus is None or not self._gpus:
            return
        for index, value in gpus.energy_mj().items():
            if index in self._gpus:
                stats = self._gpus[index]
                stats.energy_last_mj = value
                if stats.energy_first_mj is None:
                    stats.energy_first_mj = value
        if alive and tree is not None:
            self._observe_processes(gpus, set(tree.member_times) | {self.pid})

    def _observe_processes(self, gpus: GpuSampler, pids: set[int]) -> None:
        import psutil

        for index, listed in gpus.processes().items():
            if listed is None:
                self._listing_failed = True
                continue
            self._listed_once = True
            if any(not psutil.pid_exists(pid) for pid in listed):
                self._foreign_pids = True
            if index in self._gpus:
                self._gpus[index].add_processes(listed, pids)

    # -- the end ------------------------------------------------------------------------------
    def totals(self, usage: Usage | None = None) -> dict[str, Any]:
        """The run's ``resources`` mapping. ``usage`` is the recorded command's
        (:func:`wait_with_usage`); for a meter of this process it is measured here."""
        wall = max(time.time() - self.started, 0.0)
        totals: dict[str, Any] = {"wall_s": round(wall, 3)}
        cpu = self._cpu(usage)
        if cpu is not None:
            user, system = cpu
            totals.update(
                cpu_user_s=round(user, 3),
                cpu_system_s=round(system, 3),
                cpu_s=round(user + system, 3),
                cpu_hours=round((user + system) / 3600, 6),
            )
        kernel = usage if not self.measures_self else own_usage()
        peak = max(self._tree_rss_peak, (kernel.max_rss_bytes if kernel else 0) / _MIB)
        if peak > 0:
            totals["peak_rss_mb"] = round(peak, 1)
        disk = usage if not self.measures_self else self._own_delta()
        if disk is not None and disk.read_bytes is not None and disk.write_bytes is not None:
            totals.update(disk_read_bytes=disk.read_bytes, disk_write_bytes=disk.write_bytes)
        totals.update(self._network())
        if self._samples:
            totals["samples"] = self._samples
            if self.sample_interval is not None:
                totals["sample_interval_s"] = self.sample_interval
        totals.update(self._gpu_totals(wall))
        return totals

    def _own_delta(self) -> Usage | None:
        return None if self._own_start is None else own_usage().minus(self._own_start)

    def _cpu(self, usage: Usage | None) -> tuple[float, float] | None:
        """(user, system) seconds of the process tree over the run."""
        if self.measures_self:
            return _tree_delta(self._tree_start, _tree_times(self.pid))
        if usage is None:
            return None
        user, system = usage.user_s, usage.system_s
        for _created, more_user, more_system in _still_alive(self._members, self.pid):
            user += more_user  # orphans the command left running were never waited for
            system += more_system
        return user, system

    def _network(self) -> dict[str, int]:
        now = _net_counters()
        if self._net_start is None or now is None:
            return {}
        sent, received = (max(b - a, 0) for a, b in zip(self._net_start, now, strict=True))
        return {"net_sent_bytes": sent, "net_recv_bytes": received}

    def _gpu_totals(self, wall: float) -> dict[str, Any]:
        if not self._gpus:
            return {}
        attribution, used = self._used_gpus()
        gpus = []
        for index, stats in sorted(self._gpus.items()):
            gpus.append(_gpu_entry(stats, index in used, wall))
        chosen = [g for g in gpus if g["used"]]
        totals: dict[str, Any] = {
            "gpus": gpus,
            "gpu_attribution": attribution,
            "gpu_count": len(chosen),
            "gpu_hours": round(len(chosen) * wall / 3600, 6),
        }
        for key, pick, source in (
            ("peak_gpu_utilization_percent", max, "peak_utilization_percent"),
            ("peak_gpu_memory_mb", max, "peak_memory_mb"),
        ):
            found = [g[source] for g in chosen if source in g]
            if found:
                totals[key] = pick(found)
        means = [g["mean_utilization_percent"] for g in chosen if "mean_utilization_percent" in g]
        if means:
            totals["mean_gpu_utilization_percent"] = round(sum(means) / len(means), 1)
        energies = [g["energy_wh"] for g in chosen if "energy_wh" in g]
        if chosen and len(energies) == len(chosen):
            totals["gpu_energy_wh"] = round(sum(energies), 3)
        return totals

    def _used_gpus(self) -> tuple[str, set[int]]:
        """Which GPUs the run used, and how that was decided (docs/resources.md)."""
        by_process = {i for i, s in self._gpus.items() if s.run_seen}
        trusted = self._listed_once and not (self._listing_failed or self._foreign_pids)
        if by_process or trusted:
            return "processes", by_process
        visible = visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"), self._gpus)
        if visible is not None:
            return "visible_devices", visible
        return "utilization", {i for i, s in self._gpus.items() if (s.utilization_peak or 0) > 0}


def _gpu_entry(stats: _GpuStats, used: bool, wall: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": stats.index, "used": used, **stats.identity}
    entry["hours"] = round(wall / 3600, 6) if used else 0.0
    if stats.utilization_peak is not None:
        entry["peak_utilization_percent"] = round(stats.utilization_peak, 1)
    if stats.utilization_count:
        mean = stats.utilization_sum / stats.utilization_count
        entry["mean_utilization_percent"] = round(mean, 1)
    if stats.memory_peak_mb is not None:
        entry["peak_memory_mb"] = round(stats.memory_peak_mb, 1)
    if stats.run_memory_peak_mb is not None:
        entry["peak_run_memory_mb"] = round(stats.run_memory_peak_mb, 1)
    energy = stats.energy_wh()
    if energy is not None:
        entry["energy_wh"] = round(energy, 3)
    return entry


def visible_devices(text: str | None, gpus: Mapping[int, _GpuStats]) -> set[int] | None:
    """The NVML indices ``CUDA_VISIBLE_DEVICES`` names (indices or UUIDs), None if unset.

    CUDA numbers GPUs fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; NVML (and
    nvidia-smi) in PCI order: on a machine of identical GPUs the two agree.
    """
    if text is None:
        return None
    chosen: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        if item.isdigit():
            if int(item) in gpus:
                chosen.add(int(item))
            continue
        matches = [i for i, s in gpus.items() if item and s.identity.get("uuid", "") == item]
        if not matches and item.startswith("GPU-"):  # a unique prefix of a UUID is allowed
            matches = [i for i, s in gpus.items() if s.identity.get("uuid", "").startswith(item)]
        if len(matches) != 1:
            break  # CUDA stops at the first entry it cannot use (e.g. -1): so do we
        chosen.add(matches[0])
    return chosen


def _tree_times(pid: int) -> dict[int, CpuTimes]:
    """CPU times of ``pid`` and every descendant alive now."""
    import psutil

    from gitruns.capture.system import cpu_times_of

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    found: dict[int, CpuTimes] = {}
    for process in members:
        try:
            found[process.pid] = cpu_times_of(process)
        except psutil.Error:
            continue
    return found


def _tree_delta(
    before: Mapping[int, CpuTimes], after: Mapping[int, CpuTimes]
) -> tuple[float, float]:
    """CPU used between two snapshots of a tree; a process seen in both counts its growth."""
    user = system = 0.0
    for pid, (created, now_user, now_system) in after.items():
        then = before.get(pid)
        if then is not None and abs(then[0] - created) < 0.01:  # the same process, not a reused pid
            now_user, now_system = now_user - then[1], now_system - then[2]
        user += max(now_user, 0.0)
        system += max(now_system, 0.0)
    return user, system


def _still_alive(members: Mapping[int, CpuTimes], root: int) -> list[CpuTimes]:
    """The CPU times now of the processes ever seen in the tree (root aside) that are still
    running: nobody has waited for them, so the kernel's count for the root lacks them."""
    if not any(pid != root for pid in members):
        return []  # nothing seen (no sample taken): psutil need not be loaded
    import psutil

    from gitruns.capture.system import cpu_times_of

    alive = []
    for pid, (created, _user, _system) in members.items():
        if pid == root:
            continue
        try:
            times = cpu_times_of(psutil.Process(pid))
        except psutil.Error:
            continue  # gone: waited for within the tree (counted by wait4), or lost
        if abs(times[0] - created) < 0.01:
            alive.append(times)
    return alive
