#!/usr/bin/env python3
"""Check gitruns' GPU capture against the REAL NVML on a machine with an NVIDIA GPU.

Prints the GPU inventory, one reading per GPU and one system sample with its GPU keys;
exits 1 (loudly) when no GPU is found or a reading is missing. Run from a checkout:

    python scripts/check_nvml.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitruns.capture.gpu import FAKE_ENV, GpuSampler, gpu_inventory, load_nvml
from gitruns.capture.resources import ResourceMeter
from gitruns.capture.system import SystemSampler

READINGS = ("utilization_percent", "memory_used_mb", "power_w", "temperature_c")


def fail(message: str) -> NoReturn:
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    os.environ.pop(FAKE_ENV, None)  # this script is about the real thing
    nvml = load_nvml()
    if nvml is None:
        fail("pynvml is not importable (pip install nvidia-ml-py)")
    try:
        nvml.nvmlInit()
        nvml.nvmlShutdown()
    except nvml.NVMLError as exc:
        fail(f"nvmlInit failed: {exc!r} (is the NVIDIA driver installed?)")
    started = time.perf_counter()
    inventory = gpu_inventory()
    print(f"gpu_inventory() in {time.perf_counter() - started:.3f} s:")
    print(json.dumps(inventory, indent=2))
    if not inventory:
        fail("gpu_inventory() is empty on a machine whose NVML works")
    for key in ("name", "uuid", "memory_total_mb", "driver_version", "cuda_version"):
        if key not in inventory[0]:
            fail(f"GPU 0 has no {key}")

    sampler = GpuSampler()
    readings = sampler.sample()
    identities, energy, processes = sampler.identities(), sampler.energy_mj(), sampler.processes()
    sampler.close()
    print("GpuSampler().identities():", json.dumps(identities, indent=2))
    print("GpuSampler().energy_mj():", json.dumps(energy))
    print("GpuSampler().processes():", json.dumps(processes))
    if identities.get(0, {}).get("name") != inventory[0]["name"]:
        fail("identities() does not name GPU 0 as the inventory does")
    if 0 not in energy:
        print("note: GPU 0 has no energy counter (before Volta): runs get no energy_wh")
    if processes.get(0) is None:
        print("note: GPU 0 cannot list its processes: runs attribute GPUs by utilisation")
    print("GpuSampler().sample():")
    print(json.dumps(readings, indent=2))
    missing = [k for k in READINGS if k not in readings.get(0, {})]
    if missing:
        print(f"note: GPU 0 does not report {missing} (NotSupported is allowed for power)")
    if "memory_used_mb" not in readings.get(0, {}):
        fail("GPU 0 reported no memory use")

    emitted: dict[str, float] = {}
    meter = ResourceMeter(None, 3600)
    system = SystemSampler(os.getpid(), 3600, lambda k, v: emitted.__setitem__(k, v), meter)
    system.start()
    system.stop()
    totals = meter.totals()
    print("ResourceMeter totals:", json.dumps(totals, indent=2))
    gpus = totals.get("gpus") or []
    if not gpus or gpus[0].get("name") != inventory[0]["name"] or "peak_memory_mb" not in gpus[0]:
        fail("resource totals have no GPU 0 with its name and peak memory")
    gpu_keys = sorted(k for k in emitted if k.startswith("system/gpu/"))
    print("SystemSampler GPU keys:", json.dumps({k: emitted[k] for k in gpu_keys}, indent=2))
    if system.last_error is not None:
        fail(f"the system sampler hit {system.last_error!r}")
    if "system/gpu/0/memory_used_mb" not in emitted:
        fail("the system sampler emitted no GPU metrics")
    print("PASS")


if __name__ == "__main__":
    main()
