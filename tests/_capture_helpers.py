"""Helpers for the capture tests: a fake NVML description on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

A100: dict[str, Any] = {
    "name": "NVIDIA A100-SXM4-80GB",
    "uuid": "GPU-11111111-2222-3333-4444-555555555555",
    "memory_total": 80 * 1024**3,
    "memory_used": 3 * 1024**3,
    "utilization_gpu": 87,
    "power_mw": 250_500,
    "temperature_c": 61,
}


def use_fake_nvml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gpus: list[dict[str, Any]], **system: Any
) -> Path:
    """Write a fake NVML description and point GITRUNS_FAKE_NVML at it."""
    spec = {"driver_version": "550.54.15", "cuda_version": 12040, "gpus": gpus, **system}
    path = tmp_path / "fake-nvml.json"
    path.write_text(json.dumps(spec))
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(path))
    return path
