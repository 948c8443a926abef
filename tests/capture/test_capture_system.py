"""The system sampler on real processes (psutil) and fake GPUs (the NVML boundary)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _capture_helpers import A100, use_fake_nvml

from gitruns.capture.gpu import GpuSampler
from gitruns.capture.system import ProcessTree, SystemSampler

SYSTEM_KEYS = {
    "system/memory_percent",
    "system/memory_used_mb",
    "system/disk_read_mb",
    "system/disk_write_mb",
    "system/net_sent_mb",
    "system/net_recv_mb",
}
TREE_KEYS = {"system/cpu_percent", "system/rss_mb"}

# A child that grows its memory in steps, each step released by a line on stdin, so the
# test decides when samples happen (no timing assumptions).
GROWER = """
import sys
hoard = []
for line in sys.stdin:
    hoard.append(bytearray(int(line) * 1024 * 1024))
    print("ok", flush=True)
"""


class Recorder:
    """A thread-safe emit that also lets a test wait for the next sample."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float]] = []
        self._lock = threading.Condition()

    def __call__(self, key: str, value: float) -> None:
        with self._lock:
            self.points.append((key, value))
            self._lock.notify_all()

    def wait_for(self, key: str, count: int) -> None:
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.values(key)) >= count, timeout=60)

    def values(self, key: str) -> list[float]:
        return [value for name, value in self.points if name == key]

    def names(self) -> set[str]:
        return {name for name, _ in self.points}


@pytest.fixture
def grower() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", GROWER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield child
    if child.poll() is None:
        child.kill()
        child.wait()


def _grow(child: subprocess.Popen[str], mib: int) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(f"{mib}\n")
    child.stdin.flush()
    assert child.stdout.readline() == "ok\n"


def test_samples_the_process_tree_and_the_system(grower: subprocess.Popen[str]) -> None:
    record = Recorder()
    sampler = SystemSampler(grower.pid, interval=0.05, emit=record)
    sampler.start()
    record.wait_for("system/rss_mb", 1)
    before = record.values("system/rss_mb")[-1]
    _grow(grower, 64)
    seen = len(record.values("system/rss_mb"))
    record.wait_for("system/rss_mb", seen + 2)  # a sample that started after the growth
    sampler.stop()
    assert record.values("system/rss_mb")[-1] >= before + 60
    assert record.names() >= SYSTEM_KEYS | TREE_KEYS
    assert not any(key.startswith("system/gpu/") for key in record.names())  # no GPU here
    assert all(value >= 0 for _, value in record.points)
    assert sampler.last_error is None


def test_the_tree_includes_grandchildren(tmp_path: Path) -> None:
    # A shell whose child python holds the memory: the shell's own RSS is small.
    code = f"{sys.executable} -c 'import sys; b = bytearray(80 << 20); sys.stdin.read()'"
    shell = subprocess.Popen(["sh", "-c", code], stdin=subprocess.PIPE)
    try:
        tree = ProcessTree(shell.pid)
        rss = 0.0
        for _ in range(600):  # until the grandchild has allocated (bounded, not timed)
            reading = tree.sample()
            assert reading is not None
            rss = reading["rss_mb"]
            if rss >= 80:
                break
            threading.Event().wait(0.05)
        assert rss >= 80
    finally:
        assert shell.stdin is not None
        shell.stdin.close()
        shell.wait()


def test_stop_takes_a_last_sample_even_with_a_long_interval(
    grower: subprocess.Popen[str],
) -> None:
    record = Recorder()
    sampler = SystemSampler(grower.pid, interval=3600, emit=record)
    sampler.start()
    record.wait_for("system/memory_percent", 1)  # the first sample comes early
    sampler.stop()
    assert len(record.values("system/memory_percent")) == 2
    assert not sampler._thread.is_alive()


def test_a_process_that_is_gone_gives_system_metrics_only() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    record = Recorder()
    sampler = SystemSampler(child.pid, interval=3600, emit=record)
    sampler.start()
    sampler.stop()
    assert record.names() >= SYSTEM_KEYS
    assert not TREE_KEYS & record.names()


def test_a_process_ending_mid_run_stops_tree_metrics(grower: subprocess.Popen[str]) -> None:
    record = Recorder()
    sampler = SystemSampler(grower.pid, interval=0.05, emit=record)
    sampler.start()
    record.wait_for("system/rss_mb", 1)
    grower.kill()
    grower.wait()
    rss_count = len(record.values("system/rss_mb"))
    sampler.sample_once()
    sampler.stop()
    assert len(record.values("system/rss_mb")) <= rss_count + 1  # one in flight at most
    assert sampler.last_error is None


def test_a_failing_emit_never_reaches_the_caller(grower: subprocess.Popen[str]) -> None:
    calls: list[str] = []

    def emit(key: str, value: float) -> None:
        calls.append(key)
        raise RuntimeError("disk full")

    sampler = SystemSampler(grower.pid, interval=3600, emit=emit)
    sampler.start()
    sampler.stop()
    assert calls
    assert isinstance(sampler.last_error, RuntimeError)


def test_fake_gpu_values_are_sampled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grower: subprocess.Popen[str]
) -> None:
    no_power = {**A100, "uuid": "GPU-2", "power_mw": None, "utilization_gpu": 5}
    use_fake_nvml(tmp_path, monkeypatch, [A100, no_power])
    record = Recorder()
    sampler = SystemSampler(grower.pid, interval=3600, emit=record)
    sampler.start()
    record.wait_for("system/gpu/0/utilization_percent", 1)
    sampler.stop()
    assert record.values("system/gpu/0/utilization_percent") == [87.0, 87.0]
    assert record.values("system/gpu/0/memory_used_mb") == [3072.0, 3072.0]
    assert record.values("system/gpu/0/power_w") == [250.5, 250.5]
    assert record.values("system/gpu/0/temperature_c") == [61.0, 61.0]
    assert record.values("system/gpu/1/utilization_percent") == [5.0, 5.0]
    assert "system/gpu/1/power_w" not in record.names()  # NotSupported: left out
    assert "system/gpu/1/temperature_c" in record.names()


def test_gpu_sampler_without_a_driver_is_empty() -> None:
    sampler = GpuSampler()
    assert sampler.count == 0
    assert sampler.sample() == {}
    sampler.close()
    sampler.close()


def test_fake_gpu_sampler_shuts_nvml_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_nvml(tmp_path, monkeypatch, [A100])
    sampler = GpuSampler()
    assert sampler.count == 1
    assert sampler.sample()[0]["utilization_percent"] == 87.0
    sampler.close()
    assert sampler.sample() == {}
