"""NVIDIA GPUs through NVML: what is installed, and live readings per GPU.

No driver, no ``pynvml``, or any NVML error at start-up means "no GPU": an empty inventory
and no readings, never an error or a warning (most machines that record runs have no GPU).
A reading a GPU does not support (power on some boards, utilisation under MIG) is left out.
"""

from __future__ import annotations

import os
from typing import Any

FAKE_ENV = "GITRUNS_FAKE_NVML"
_MIB = 1024 * 1024


def load_nvml() -> Any | None:
    """The NVML module (real ``pynvml``, or the fake when ``GITRUNS_FAKE_NVML`` is set), or
    None when ``pynvml`` is not installed."""
    fake = os.environ.get(FAKE_ENV)
    if fake:
        from gitruns.capture.fake_nvml import load_fake_nvml

        return load_fake_nvml(fake)
    if not _driver_present():
        return None
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _driver_present() -> bool:
    """False only where there can be no NVIDIA driver: Linux without its kernel module's
    files. Importing pynvml costs tens of milliseconds at every `gitruns record`, and most
    machines that record runs have no GPU."""
    if not os.path.isdir("/proc/driver"):
        return True  # not Linux (or /proc not mounted): let NVML tell
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")


def _start() -> Any | None:
    """Load and initialise NVML; None when there is no usable GPU driver."""
    nvml = load_nvml()
    if nvml is None:
        return None
    try:
        nvml.nvmlInit()
    except (nvml.NVMLError, OSError):
        return None
    return nvml


def _text(value: str | bytes) -> str:
    # Older pynvml releases return bytes, newer ones str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _optional(nvml: Any, call: Any, *args: Any) -> Any | None:
    try:
        return call(*args)
    except nvml.NVMLError:
        return None


def _cuda_version(nvml: Any) -> str | None:
    raw = _optional(nvml, nvml.nvmlSystemGetCudaDriverVersion)
    # NVML encodes CUDA 12.4 as 12040.
    return None if raw is None else f"{raw // 1000}.{raw % 1000 // 10}"


def _describe(nvml: Any, index: int, system: dict[str, Any]) -> dict[str, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    info: dict[str, Any] = {"index": index, "name": _text(nvml.nvmlDeviceGetName(handle))}
    uuid = _optional(nvml, nvml.nvmlDeviceGetUUID, handle)
    if uuid is not None:
        info["uuid"] = _text(uuid)
    memory = _optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    if memory is not None:
        info["memory_total_mb"] = int(memory.total) // _MIB
    info.update({k: v for k, v in system.items() if v is not None})
    return info


def gpu_inventory() -> list[dict[str, Any]]:
    """One mapping per GPU: index, name, uuid, memory_total_mb, driver_version,
    cuda_version (keys a GPU cannot report are left out). Empty without a GPU."""
    nvml = _start()
    if nvml is None:
        return []
    try:
        driver = _optional(nvml, nvml.nvmlSystemGetDriverVersion)
        system = {
            "driver_version": None if driver is None else _text(driver),
            "cuda_version": _cuda_version(nvml),
        }
        return [_describe(nvml, i, system) for i in range(nvml.nvmlDeviceGetCount())]
    except nvml.NVMLError:
        return []
    finally:
        _optional(nvml, nvml.nvmlShutdown)


def read_gpu(nvml: Any, handle: Any) -> dict[str, float]:
    """Live readings of one GPU: utilization_percent, memory_used_mb, power_w,
    temperature_c; those the GPU does not support are left out."""
    readings: dict[str, float] = {}
    rates = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    if rates is not None:
        readings["utilization_percent"] = float(rates.gpu)
    memory = _optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    if memory is not None:
        readings["memory_used_mb"] = memory.used / _MIB
    power = _optional(nvml, nvml.nvmlDeviceGetPowerUsage, handle)
    if power is not None:
        readings["power_w"] = power / 1000.0
    temperature = _optional(nvml, nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
    if temperature is not None:
        readings["temperature_c"] = float(temperature)
    return readings


class GpuSampler:
    """Readings of every GPU, with NVML initialised once (``close()`` shuts it down).

    With no GPU, ``sample()`` returns an empty mapping.
    """

    def __init__(self) -> None:
        self._nvml = _start()
        self._handles: list[Any] = []
        if self._nvml is None:
            return
        try:
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except self._nvml.NVMLError:
            self.close()

    @property
    def count(self) -> int:
        return len(self._handles)

    def sample(self) -> dict[int, dict[str, float]]:
        """``{gpu index: {reading: value}}`` for every GPU."""
        if self._nvml is None:
            return {}
        return {i: read_gpu(self._nvml, handle) for i, handle in enumerate(self._handles)}

    def identities(self) -> dict[int, dict[str, str]]:
        """``{gpu index: {"name", "uuid"}}`` (what a GPU cannot report is left out)."""
        found: dict[int, dict[str, str]] = {}
        nvml = self._nvml
        if nvml is None:
            return found
        for index, handle in enumerate(self._handles):
            name = _optional(nvml, nvml.nvmlDeviceGetName, handle)
            uuid = _optional(nvml, nvml.nvmlDeviceGetUUID, handle)
            found[index] = {
                k: _text(v) for k, v in (("name", name), ("uuid", uuid)) if v is not None
            }
        return found

    def energy_mj(self) -> dict[int, int]:
        """Each GPU's energy counter (millijoules since the driver loaded; Volta and later).
        GPUs without one are left out."""
        found: dict[int, int] = {}
        nvml = self._nvml
        if nvml is None:
            return found
        for index, handle in enumerate(self._handles):
            value = _optional(nvml, nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
            if value is not None:
                found[index] = int(value)
        return found

    def processes(self) -> dict[int, dict[int, int | None] | None]:
        """``{gpu index: {pid: GPU memory in bytes or None}}`` of the compute (and, where
        listed, graphics) processes on each GPU; None for a GPU that cannot list them."""
        found: dict[int, dict[int, int | None] | None] = {}
        nvml = self._nvml
        if nvml is None:
            return found
        for index, handle in enumerate(self._handles):
            compute = _optional(nvml, nvml.nvmlDeviceGetComputeRunningProcesses, handle)
            if compute is None:
                found[index] = None
                continue
            graphics = _optional(nvml, nvml.nvmlDeviceGetGraphicsRunningProcesses, handle)
            listed: dict[int, int | None] = {}
            for info in [*compute, *(graphics or [])]:
                memory = getattr(info, "usedGpuMemory", None)
                listed[int(info.pid)] = None if memory is None else int(memory)
            found[index] = listed
        return found

    def close(self) -> None:
        if self._nvml is not None:
            _optional(self._nvml, self._nvml.nvmlShutdown)
            self._nvml = None
            self._handles = []
