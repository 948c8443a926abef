"""A stand-in for the ``pynvml`` module, driven by a JSON file (tests only; no GPU here).

``GITRUNS_FAKE_NVML=/path/to/gpus.json`` makes :func:`gitruns.capture.gpu.load_nvml` return
this fake instead of the real NVML. It is the only fake in gitruns and sits at the hardware
boundary: everything above it (inventory, sampling, the recorder) runs unchanged.

The file::

    {"driver_version": "550.54.15", "cuda_version": 12040,
     "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-1234",
               "memory_total": 85899345920, "memory_used": 1073741824,
               "utilization_gpu": 87, "power_mw": 250000, "temperature_c": 61,
               "total_energy_mj": 123456789,
               "processes": [{"pid": 4242, "used_memory": 1073741824}]}]}

Memory is in bytes, power in milliwatts and energy in millijoules since the driver loaded,
as NVML reports them; ``processes`` are the compute processes on the GPU. A GPU entry
without a value makes the matching call raise ``NVMLError_NotSupported``;
``"no_driver": true`` makes ``nvmlInit`` raise ``NVMLError_LibraryNotFound``.

The file is the hardware's state: it is read again whenever it changes (replace it
atomically), so a test's job can change its GPU's utilisation, memory, energy counter and
process list while it is being recorded, as a real job changes a real GPU's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitruns.errors import InvalidInputError

NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    """Base of the fake's errors, like ``pynvml.NVMLError``."""


class NVMLError_LibraryNotFound(NVMLError):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_InvalidArgument(NVMLError):
    pass


class NVMLError_Uninitialized(NVMLError):
    pass


@dataclass(frozen=True)
class _Memory:
    total: int
    used: int
    free: int


@dataclass(frozen=True)
class _Utilization:
    gpu: int
    memory: int


@dataclass(frozen=True)
class _ProcessInfo:
    pid: int
    usedGpuMemory: int | None  # pynvml's spelling


@dataclass(frozen=True)
class _Handle:
    index: int


class FakeNvml:
    """The subset of the pynvml API that gitruns calls, answering from a JSON description."""

    NVMLError = NVMLError
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_NotSupported = NVMLError_NotSupported
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU

    def __init__(self, spec: dict[str, Any], path: Path | None = None) -> None:
        self._spec = spec
        self._gpus: list[dict[str, Any]] = list(spec.get("gpus", []))
        self._initialised = 0
        self._path = path
        self._stamp = _stamp(path) if path is not None else None

    def _refresh(self) -> None:
        """Read the file again when it changed; a file caught mid-write keeps the last state."""
        if self._path is None:
            return
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return
        try:
            spec = _parse(json.loads(self._path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return
        if spec is not None:
            self._spec, self._gpus, self._stamp = spec, list(spec.get("gpus", [])), stamp

    def nvmlInit(self) -> None:
        if self._spec.get("no_driver"):
            raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")
        self._initialised += 1

    def nvmlShutdown(self) -> None:
        self._check_init()
        self._initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check_init()
        return str(self._required(self._spec, "driver_version"))

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._check_init()
        return int(self._required(self._spec, "cuda_version"))

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self._gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._check_init()
        if not 0 <= index < len(self._gpus):
            raise NVMLError_InvalidArgument(f"no GPU {index}")
        return _Handle(index)

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return str(self._required(self._gpu(handle), "name"))

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        return str(self._required(self._gpu(handle), "uuid"))

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle) -> _Memory:
        gpu = self._gpu(handle)
        total = int(self._required(gpu, "memory_total"))
        used = int(self._required(gpu, "memory_used"))
        return _Memory(total=total, used=used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> _Utilization:
        gpu = self._gpu(handle)
        busy = int(self._required(gpu, "utilization_gpu"))
        return _Utilization(gpu=busy, memory=int(gpu.get("utilization_memory", 0)))

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        return int(self._required(self._gpu(handle), "power_mw"))

    def nvmlDeviceGetTemperature(self, handle: _Handle, sensor: int) -> int:
        return int(self._required(self._gpu(handle), "temperature_c"))

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        return int(self._required(self._gpu(handle), "total_energy_mj"))

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[_ProcessInfo]:
        listed = self._required(self._gpu(handle), "processes")
        return [_ProcessInfo(int(p["pid"]), p.get("used_memory")) for p in listed]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: _Handle) -> list[_ProcessInfo]:
        self._gpu(handle)
        return []  # no display work on a compute GPU

    def _gpu(self, handle: _Handle) -> dict[str, Any]:
        self._check_init()
        self._refresh()
        if not 0 <= handle.index < len(self._gpus):
            raise NVMLError_InvalidArgument(f"no GPU {handle.index}")  # the GPU went away
        return self._gpus[handle.index]

    def _check_init(self) -> None:
        if self._initialised <= 0:
            raise NVMLError_Uninitialized("Uninitialized")

    def _required(self, source: dict[str, Any], key: str) -> Any:
        self._check_init()
        if source.get(key) is None:
            raise NVMLError_NotSupported(f"Not Supported ({key})")
        return source[key]


def load_fake_nvml(path: str) -> FakeNvml:
    """Build the fake from the JSON file at ``path`` (read again whenever it changes)."""
    try:
        spec = _parse(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot read the fake NVML description {path} ({exc})",
            "point GITRUNS_FAKE_NVML at a JSON file, or unset it",
        ) from exc
    if spec is None:
        raise InvalidInputError(
            f"fake NVML description {path} is not an object with a 'gpus' list",
            "see gitruns/capture/fake_nvml.py for the format",
        )
    return FakeNvml(spec, Path(path))


def _parse(spec: Any) -> dict[str, Any] | None:
    if isinstance(spec, list):
        spec = {"driver_version": "0.0", "cuda_version": 0, "gpus": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("gpus", []), list):
        return None
    return spec


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino
