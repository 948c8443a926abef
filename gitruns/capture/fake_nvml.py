"""A stand-in for the ``pynvml`` module, driven by a JSON file (tests only; no GPU here).

``GITRUNS_FAKE_NVML=/path/to/gpus.json`` makes :func:`gitruns.capture.gpu.load_nvml` return
this fake instead of the real NVML. It is the only fake in gitruns and sits at the hardware
boundary: everything above it (inventory, sampling, the recorder) runs unchanged.

The file::

    {"driver_version": "550.54.15", "cuda_version": 12040,
     "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-1234",
               "memory_total": 85899345920, "memory_used": 1073741824,
               "utilization_gpu": 87, "power_mw": 250000, "temperature_c": 61}]}

Memory is in bytes and power in milliwatts, as NVML reports them. A GPU entry without a
value makes the matching call raise ``NVMLError_NotSupported``; ``"no_driver": true`` makes
``nvmlInit`` raise ``NVMLError_LibraryNotFound``.
"""

from __future__ import annotations

import json
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


class FakeNvml:
    """The subset of the pynvml API that gitruns calls, answering from a JSON description."""

    NVMLError = NVMLError
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_NotSupported = NVMLError_NotSupported
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU

    def __init__(self, spec: dict[str, Any]) -> None:
        self._spec = spec
        self._gpus: list[dict[str, Any]] = list(spec.get("gpus", []))
        self._initialised = 0

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

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        self._check_init()
        if not 0 <= index < len(self._gpus):
            raise NVMLError_InvalidArgument(f"no GPU {index}")
        return self._gpus[index]

    def nvmlDeviceGetName(self, handle: dict[str, Any]) -> str:
        return str(self._required(handle, "name"))

    def nvmlDeviceGetUUID(self, handle: dict[str, Any]) -> str:
        return str(self._required(handle, "uuid"))

    def nvmlDeviceGetMemoryInfo(self, handle: dict[str, Any]) -> _Memory:
        total = int(self._required(handle, "memory_total"))
        used = int(self._required(handle, "memory_used"))
        return _Memory(total=total, used=used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, handle: dict[str, Any]) -> _Utilization:
        busy = int(self._required(handle, "utilization_gpu"))
        return _Utilization(gpu=busy, memory=int(handle.get("utilization_memory", 0)))

    def nvmlDeviceGetPowerUsage(self, handle: dict[str, Any]) -> int:
        return int(self._required(handle, "power_mw"))

    def nvmlDeviceGetTemperature(self, handle: dict[str, Any], sensor: int) -> int:
        return int(self._required(handle, "temperature_c"))

    def _check_init(self) -> None:
        if self._initialised <= 0:
            raise NVMLError_Uninitialized("Uninitialized")

    def _required(self, source: dict[str, Any], key: str) -> Any:
        self._check_init()
        if source.get(key) is None:
            raise NVMLError_NotSupported(f"Not Supported ({key})")
        return source[key]


def load_fake_nvml(path: str) -> FakeNvml:
    """Build the fake from the JSON file at ``path``."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot read the fake NVML description {path} ({exc})",
            "point GITRUNS_FAKE_NVML at a JSON file, or unset it",
        ) from exc
    if isinstance(spec, list):
        spec = {"driver_version": "0.0", "cuda_version": 0, "gpus": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("gpus", []), list):
        raise InvalidInputError(
            f"fake NVML description {path} is not an object with a 'gpus' list",
            "see gitruns/capture/fake_nvml.py for the format",
        )
    return FakeNvml(spec)
