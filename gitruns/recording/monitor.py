"""System metrics and resource totals for a run made through the Python API.

``gitruns record`` samples the command it runs; a script that calls
``start_run(log_system_metrics=True)`` (or runs with ``GITRUNS_SYSTEM_METRICS=1``) is
sampled here instead: its own process and its children, from a background thread, and
when the run ends its resource totals (docs/resources.md) are written into ``run.yaml``.
"""

from __future__ import annotations

import os

from gitruns.capture.resources import ResourceMeter
from gitruns.capture.system import SystemSampler
from gitruns.recording.active import ActiveRun

ENV_SYSTEM_METRICS = "GITRUNS_SYSTEM_METRICS"
DEFAULT_INTERVAL = 10.0


def wanted(requested: bool | None) -> bool:
    """``requested`` if given, else the GITRUNS_SYSTEM_METRICS variable (1/true/yes/on)."""
    if requested is not None:
        return requested
    return os.environ.get(ENV_SYSTEM_METRICS, "").strip().lower() in ("1", "true", "yes", "on")


class ResourceMonitor:
    """Samples this process's tree into ``run`` and writes its totals when the run ends."""

    def __init__(self, run: ActiveRun, interval: float = DEFAULT_INTERVAL) -> None:
        self.run = run
        self.meter = ResourceMeter(None, interval)
        self.sampler = SystemSampler(os.getpid(), interval, run.log_metric, self.meter)

    def start(self) -> None:
        self.sampler.start()
        self.run.add_end_hook(self.finish)

    def finish(self) -> None:
        """Take the last sample, then record the totals (before the run's end event)."""
        from gitruns.recording.costs import configured_rates, estimate

        self.sampler.stop()
        try:
            totals = self.meter.totals()
            cost = estimate(totals, configured_rates(self.run.store))
            if cost is not None:
                totals["cost"] = cost
        except Exception as exc:  # measuring must never break a run
            totals = {"error": f"{type(exc).__name__}: {exc}"}
        self.run.set_fields(resources=totals)


def start_monitor(run: ActiveRun, interval: float = DEFAULT_INTERVAL) -> ResourceMonitor:
    monitor = ResourceMonitor(run, interval)
    monitor.start()
    return monitor
