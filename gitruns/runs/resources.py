"""A run's resource totals (``run.yaml`` ``resources``) read back: flattened for queries,
the headline figures for ``diff``/``compare``, and lines for ``show``.

The mapping comes from git and may come from someone else's remote: every field is
optional and checked for its type; anything unexpected is left out.
"""

from __future__ import annotations

import math
from typing import Any

from gitruns.format.text import format_duration

# The figures diff and compare line up, in this order (per-GPU details stay in show).
HEADLINE = (
    "wall_s",
    "cpu_hours",
    "peak_rss_mb",
    "gpu_count",
    "gpu_hours",
    "peak_gpu_memory_mb",
    "peak_gpu_utilization_percent",
    "mean_gpu_utilization_percent",
    "gpu_energy_wh",
    "disk_read_bytes",
    "disk_write_bytes",
    "net_sent_bytes",
    "net_recv_bytes",
    "cost.total",
)


def _plain(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def flat_resources(resources: Any) -> dict[str, Any]:
    """``{"gpu_hours": 0.5, "gpus.0.peak_memory_mb": 2048.0, "cost.total": 1.2}``: the
    names the filter language knows as ``resources.<name>``."""
    if not isinstance(resources, dict):
        return {}
    flat: dict[str, Any] = {}
    for key, value in resources.items():
        if _plain(value):
            flat[key] = value
        elif key == "gpus" and isinstance(value, list):
            for gpu in value:
                if isinstance(gpu, dict) and isinstance(gpu.get("index"), int):
                    prefix = f"gpus.{gpu['index']}."
                    flat.update({prefix + k: v for k, v in gpu.items() if _plain(v)})
        elif isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items() if _plain(v)})
    return flat


def headline(resources: Any) -> dict[str, float]:
    """The totals ``diff`` and ``compare`` show, as numbers, in HEADLINE order."""
    flat = flat_resources(resources)
    return {
        key: flat[key]
        for key in HEADLINE
        if isinstance(flat.get(key), int | float) and not isinstance(flat[key], bool)
    }


def _number(mapping: dict[str, Any], key: str) -> float | None:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def size_text(size: float) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop always returns


def seconds_text(seconds: float) -> str:
    """``0.045s``, ``12.3s``, ``2m05s``, ``1h02m``."""
    return f"{seconds:.3g}s" if seconds < 60 else format_duration(seconds)


def resource_lines(resources: Any) -> list[str]:
    """The ``resources`` section of ``gitruns show`` (empty for runs without totals)."""
    if not isinstance(resources, dict) or not resources:
        return []
    r = resources
    rows: list[tuple[str, str]] = []
    wall = _number(r, "wall_s")
    if wall is not None:
        rows.append(("wall", seconds_text(wall)))
    cpu, hours = _number(r, "cpu_s"), _number(r, "cpu_hours")
    if cpu is not None and hours is not None:
        user, system = _number(r, "cpu_user_s"), _number(r, "cpu_system_s")
        split = ""
        if user is not None and system is not None:
            split = f" (user {seconds_text(user)}, system {seconds_text(system)})"
        rows.append(("cpu", f"{seconds_text(cpu)} = {hours:.3g} CPU-hours{split}"))
    peak = _number(r, "peak_rss_mb")
    if peak is not None:
        rows.append(("memory", f"peak RSS {size_text(peak * 1024 * 1024)}"))
    read, written = _number(r, "disk_read_bytes"), _number(r, "disk_write_bytes")
    if read is not None and written is not None:
        rows.append(("disk", f"read {size_text(read)}, written {size_text(written)}"))
    sent, received = _number(r, "net_sent_bytes"), _number(r, "net_recv_bytes")
    if sent is not None and received is not None:
        text = f"sent {size_text(sent)}, received {size_text(received)} (whole machine)"
        rows.append(("network", text))
    rows += _gpu_rows(r)
    cost = _cost_text(r.get("cost"))
    if cost:
        rows.append(("cost", cost))
    samples, interval = _number(r, "samples"), _number(r, "sample_interval_s")
    if samples is not None:
        every = f" every {interval:g}s" if interval is not None else ""
        rows.append(("samples", f"{samples:.0f}{every}"))
    if not rows:
        return []
    width = max(len(name) for name, _ in rows)
    return ["", "resources"] + [f"  {name:<{width}}  {text}" for name, text in rows]


def _gpu_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    gpus = [g for g in r.get("gpus") or [] if isinstance(g, dict)]
    if not gpus:
        return []
    count, hours = _number(r, "gpu_count"), _number(r, "gpu_hours")
    summary = f"{count or 0:.0f} of {len(gpus)} used"
    if isinstance(r.get("gpu_attribution"), str):
        summary += f" (by {str(r['gpu_attribution']).replace('_', ' ')})"
    if hours is not None:
        summary += f": {hours:.4g} GPU-hours"
    energy = _number(r, "gpu_energy_wh")
    if energy is not None:
        summary += f", {energy:.4g} Wh"
    rows = [("gpus", summary)]
    for gpu in gpus:
        name = str(gpu.get("name") or "GPU")
        rows.append((f"gpu {gpu.get('index')}", name if gpu.get("used") else f"{name} (not used)"))
        detail = _gpu_detail(gpu)
        if detail:
            rows.append(("", detail))
    return rows


def _gpu_detail(gpu: dict[str, Any]) -> str:
    """``util 100% peak, 80% mean; memory 39.1 GiB peak; 10.5 Wh``."""
    parts = []
    peak, mean = _number(gpu, "peak_utilization_percent"), _number(gpu, "mean_utilization_percent")
    if peak is not None:
        parts.append(f"util {peak:.0f}% peak" + (f", {mean:.0f}% mean" if mean is not None else ""))
    memory = _number(gpu, "peak_memory_mb")
    if memory is not None:
        parts.append(f"memory {size_text(memory * 1024 * 1024)} peak")
    energy = _number(gpu, "energy_wh")
    if energy is not None:
        parts.append(f"{energy:.4g} Wh")
    return "; ".join(parts)


def _cost_text(cost: Any) -> str | None:
    if not isinstance(cost, dict) or _number(cost, "total") is None:
        return None
    currency = f" {cost['currency']}" if isinstance(cost.get("currency"), str) else ""
    parts = []
    gpu = _number(cost, "gpu")
    if gpu is not None:
        rates = [
            f"{rate['rate']:g}/GPU-hour"
            for rate in cost.get("gpu_hour_rates") or []
            if isinstance(rate, dict) and isinstance(rate.get("rate"), int | float)
        ]
        parts.append(f"GPU {gpu:.4g}" + (f" at {', '.join(rates)}" if rates else ""))
    cpu, cpu_rate = _number(cost, "cpu"), _number(cost, "cpu_hour_rate")
    if cpu is not None:
        rate = f" at {cpu_rate:g}/CPU-hour" if cpu_rate is not None else ""
        parts.append(f"CPU {cpu:.4g}{rate}")
    total = _number(cost, "total") or 0.0
    return f"{total:.4g}{currency}" + (f" ({'; '.join(parts)})" if parts else "")
