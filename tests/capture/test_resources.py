"""Resource totals: real `gitruns record` children with known CPU time and memory, the API
with system metrics on, and GPUs through the fake NVML (the hardware boundary).

Ranges, never timings of gitruns itself: a child's own CPU time is measured by the child
(``time.process_time``) and gitruns must report at least that, plus no more than an
interpreter's start-up and exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _capture_helpers import A100
from _record_helpers import record
from conftest import fsck, git, gitruns_cli

import gitruns
from gitruns.capture.gpu import GpuSampler
from gitruns.capture.resources import ResourceMeter, visible_devices, wait_with_usage
from gitruns.capture.system import SystemSampler
from gitruns.recording import costs

STARTUP_SLACK_S = 1.5  # interpreter start-up and exit, on a loaded 2-core machine
TICK_S = 0.05  # the kernel counts CPU time in clock ticks where process_time does not
MIB = 1024 * 1024

BUSY = """
import sys, time
target = float(sys.argv[1])
start = time.process_time()
while time.process_time() - start < target:
    pass
with open(sys.argv[2], "w") as out:
    out.write(repr(time.process_time()))
"""


def _resources(repo: Path) -> dict[str, Any]:
    runs = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    shown = gitruns_cli(repo, "show", runs[0]["id"], "--format", "json")
    resources = json.loads(shown.stdout)["resources"]
    assert isinstance(resources, dict), shown.stdout
    return resources


def _script(repo: Path, name: str, text: str) -> Path:
    path = repo.parent / name  # beside the repository: the worktree stays clean
    path.write_text(text)
    return path


@pytest.mark.slow
def test_cpu_time_of_a_busy_child(repo: Path) -> None:
    busy = _script(repo, "busy.py", BUSY)
    measured = repo.parent / "child-cpu.txt"
    result = record(
        repo, "--system-interval", "0.2", "--", sys.executable, str(busy), "1.0", str(measured)
    )
    assert result.returncode == 0, result.stderr
    child_cpu = float(measured.read_text())
    totals = _resources(repo)
    assert child_cpu - TICK_S <= totals["cpu_s"] <= child_cpu + STARTUP_SLACK_S
    assert totals["cpu_s"] == pytest.approx(
        totals["cpu_user_s"] + totals["cpu_system_s"], abs=0.002
    )
    assert totals["cpu_hours"] == pytest.approx(totals["cpu_s"] / 3600, abs=1e-6)
    assert totals["wall_s"] >= child_cpu * 0.9  # one thread cannot use more CPU than time
    assert totals["samples"] >= 2 and totals["sample_interval_s"] == 0.2
    assert "gpus" not in totals  # no GPU (and no fake) here
    fsck(repo)


@pytest.mark.slow
def test_cpu_time_includes_children_that_already_exited(repo: Path) -> None:
    """A grandchild that the child waited for is in the kernel's count for the child
    (wait4), even with sampling off, when no sample could have seen it."""
    busy = _script(repo, "busy.py", BUSY)
    parent = _script(
        repo,
        "parent.py",
        f"""
import subprocess, sys, time
subprocess.run([sys.executable, {str(busy)!r}, "0.6", sys.argv[1] + ".grandchild"], check=True)
start = time.process_time()
while time.process_time() - start < 0.4:
    pass
open(sys.argv[1], "w").write(repr(time.process_time()))
""",
    )
    measured = repo.parent / "cpu.txt"
    result = record(repo, "--no-system-metrics", "--", sys.executable, str(parent), str(measured))
    assert result.returncode == 0, result.stderr
    own = float(measured.read_text())
    grandchild = float(Path(f"{measured}.grandchild").read_text())
    totals = _resources(repo)
    assert own + grandchild - TICK_S <= totals["cpu_s"] <= own + grandchild + 2 * STARTUP_SLACK_S
    assert "samples" not in totals and "net_sent_bytes" in totals


@pytest.mark.slow
def test_peak_memory_of_a_child_that_allocates(repo: Path) -> None:
    hog = _script(
        repo,
        "hog.py",
        """
import time
block = b"x" * (300 * 1024 * 1024)  # written, so resident
time.sleep(0.5)
print(len(block))
""",
    )
    result = record(repo, "--system-interval", "0.1", "--", sys.executable, str(hog))
    assert result.returncode == 0, result.stderr
    peak = _resources(repo)["peak_rss_mb"]
    assert 300 <= peak <= 300 + 150  # the block, plus an interpreter


@pytest.mark.slow
def test_peak_memory_without_sampling_comes_from_the_kernel(repo: Path) -> None:
    # Allocated and freed between samples: only the kernel's high-water mark sees it.
    hog = _script(repo, "hog.py", "block = b'x' * (200 * 1024 * 1024)\ndel block\n")
    result = record(repo, "--no-system-metrics", "--", sys.executable, str(hog))
    assert result.returncode == 0, result.stderr
    assert 200 <= _resources(repo)["peak_rss_mb"] <= 200 + 150


@pytest.mark.slow
def test_an_orphan_left_running_is_counted(repo: Path) -> None:
    """A worker the command started and left running (never waited for) is not in the
    kernel's count; the tree samples saw it, and its CPU time at the end is added."""
    worker = _script(
        repo,
        "worker.py",
        """
import sys, time
start = time.process_time()
while True:
    if time.process_time() - start > 0.5:
        open(sys.argv[1], "a").close()
""",
    )
    launcher = _script(
        repo,
        "launcher.py",
        f"""
import os, subprocess, sys, time
marker = sys.argv[1]
worker = subprocess.Popen([sys.executable, {str(worker)!r}, marker])
open(marker + ".pid", "w").write(str(worker.pid))
while not os.path.exists(marker):
    time.sleep(0.02)
time.sleep(0.5)  # several samples see the worker
""",
    )
    marker = repo.parent / "worker-busy"
    try:
        result = record(
            repo, "--system-interval", "0.1", "--", sys.executable, str(launcher), str(marker)
        )
        assert result.returncode == 0, result.stderr
        assert _resources(repo)["cpu_s"] >= 0.5
    finally:
        pid_file = Path(f"{marker}.pid")
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_api_run_with_system_metrics(repo: Path) -> None:
    with gitruns.start_run(name="api", log_system_metrics=True) as run:
        start = time.process_time()
        block = b"x" * (50 * MIB)
        while time.process_time() - start < 0.3:
            pass
        used = time.process_time() - start
        del block
    found = gitruns.get_run(run.id)
    totals = found.document["resources"]
    assert used - TICK_S <= totals["cpu_s"] <= used + STARTUP_SLACK_S
    assert totals["peak_rss_mb"] >= 50
    assert totals["samples"] >= 1 and totals["sample_interval_s"] == 10.0
    assert "system/cpu_percent" in found.metrics


def test_api_run_without_system_metrics_has_no_totals(repo: Path) -> None:
    with gitruns.start_run(name="plain") as run:
        pass
    assert "resources" not in gitruns.get_run(run.id).document


@pytest.mark.slow
def test_system_metrics_from_the_environment_variable(repo: Path) -> None:
    script = _script(
        repo,
        "api.py",
        "import gitruns\nwith gitruns.start_run(name='env') as run:\n    print(run.id)\n",
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "GITRUNS_SYSTEM_METRICS": "1"},
        check=True,
    )
    totals = gitruns.get_run(done.stdout.strip()).document["resources"]
    assert totals["wall_s"] >= 0 and totals["cpu_s"] > 0


# -- GPUs through the fake NVML ----------------------------------------------------------------
H200: dict[str, Any] = {
    **A100,
    "name": "NVIDIA H200",
    "uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000000",
    "memory_used": 1024 * MIB,
    "utilization_gpu": 0,
    "total_energy_mj": 1_000_000,
    "processes": [],
}
IDLE_A100: dict[str, Any] = {
    **A100,
    "uuid": "GPU-bbbbbbbb-0000-0000-0000-000000000000",
    "utilization_gpu": 0,
    "memory_used": 0,
    "total_energy_mj": 5_000,
    "processes": [{"pid": 1, "used_memory": MIB}],  # someone else's process
}

# The job changes "its" GPU as a real job would: it appears in the process list, drives
# utilisation and memory up, and the energy counter advances by exactly 2 Wh.
GPU_JOB = """
import json, os, sys, time
path = os.environ["GITRUNS_FAKE_NVML"]
def update(**values):
    spec = json.load(open(path))
    spec["gpus"][0].update(values)
    json.dump(spec, open(path + ".tmp", "w"))
    os.replace(path + ".tmp", path)
me = [{"pid": os.getpid(), "used_memory": 2 << 30}]
update(processes=me, utilization_gpu=20, memory_used=3 << 30)
time.sleep(1.0)
update(utilization_gpu=80, memory_used=4 << 30)
time.sleep(1.0)
update(utilization_gpu=0, processes=[], total_energy_mj=1_000_000 + 2 * 3_600_000)
"""


def _fake_gpus(tmp_path: Path, gpus: list[dict[str, Any]]) -> Path:
    path = tmp_path / "gpus.json"
    path.write_text(
        json.dumps({"driver_version": "550.54.15", "cuda_version": 12040, "gpus": gpus})
    )
    return path


@pytest.mark.slow
def test_gpu_totals_and_cost_through_the_fake_nvml(repo: Path, tmp_path: Path) -> None:
    fake = _fake_gpus(tmp_path, [H200, IDLE_A100])
    assert gitruns_cli(repo, "config", "resources.gpuHourCost", "2").returncode == 0
    per_model = gitruns_cli(repo, "config", "resources.gpuHourCost", "4", "--gpu", "NVIDIA H200")
    assert per_model.returncode == 0, per_model.stderr
    assert gitruns_cli(repo, "config", "resources.currency", "EUR").returncode == 0
    job = _script(repo, "gpu_job.py", GPU_JOB)
    env = {"GITRUNS_FAKE_NVML": str(fake)}
    result = record(repo, "--system-interval", "0.1", "--", sys.executable, str(job), env=env)
    assert result.returncode == 0, result.stderr
    totals = _resources(repo)
    gpu0, gpu1 = totals["gpus"]
    assert totals["gpu_attribution"] == "processes"
    assert (gpu0["used"], gpu1["used"]) == (True, False)  # the other GPU holds a stranger
    assert gpu0["name"] == "NVIDIA H200" and gpu0["uuid"] == H200["uuid"]
    assert gpu0["peak_utilization_percent"] == 80.0
    assert 20.0 < gpu0["mean_utilization_percent"] < 80.0
    assert gpu0["peak_memory_mb"] == 4096.0 and gpu0["peak_run_memory_mb"] == 2048.0
    assert gpu0["energy_wh"] == 2.0 and gpu1["energy_wh"] == 0.0
    assert totals["gpu_count"] == 1 and totals["gpu_energy_wh"] == 2.0
    assert totals["gpu_hours"] == pytest.approx(totals["wall_s"] / 3600, abs=1e-5)
    assert totals["peak_gpu_memory_mb"] == 4096.0
    assert totals["cost"]["gpu"] == pytest.approx(totals["gpu_hours"] * 4, abs=1e-4)
    assert totals["cost"]["gpu_hour_rates"] == [{"model": "NVIDIA H200", "rate": 4.0}]
    assert totals["cost"]["currency"] == "EUR" and "cpu" not in totals["cost"]
    shown = _show_text(repo)
    assert "1 of 2 used (by processes)" in shown and "(not used)" in shown


def _show_text(repo: Path) -> str:
    runs = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)
    return gitruns_cli(repo, "show", runs[0]["id"]).stdout


class _Child:
    """A sleeping child to sample (its pid is what NVML would list)."""

    def __enter__(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        return self.process

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


def _started_sampler(child: subprocess.Popen[bytes], meter: ResourceMeter) -> SystemSampler:
    """A sampler that has opened NVML and taken its first sample."""
    first = threading.Event()
    sampler = SystemSampler(child.pid, 3600, lambda k, v: first.set(), meter)
    sampler.start()
    assert first.wait(60)
    return sampler


def _meter_totals(child: subprocess.Popen[bytes], samples: int = 3) -> dict[str, Any]:
    meter = ResourceMeter(child.pid, 3600)
    sampler = _started_sampler(child, meter)
    for _ in range(samples):
        sampler.sample_once()
    sampler.stop()
    return meter.totals()


def test_gpus_without_process_lists_count_by_utilisation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = {**H200, "utilization_gpu": 55, "processes": None}  # NotSupported
    idle = {**IDLE_A100, "processes": None}
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(_fake_gpus(tmp_path, [busy, idle])))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with _Child() as child:
        totals = _meter_totals(child)
    assert totals["gpu_attribution"] == "utilization"
    assert [g["used"] for g in totals["gpus"]] == [True, False]
    assert "energy_wh" in totals["gpus"][0]  # the counter did not move: 0 Wh
    assert totals["gpu_energy_wh"] == 0.0


def test_cuda_visible_devices_names_the_gpus_when_nvml_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpus = [{**H200, "processes": None}, {**IDLE_A100, "processes": None}]
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(_fake_gpus(tmp_path, gpus)))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", IDLE_A100["uuid"])
    with _Child() as child:
        totals = _meter_totals(child)
    assert totals["gpu_attribution"] == "visible_devices"
    assert [g["used"] for g in totals["gpus"]] == [False, True]


def test_foreign_pids_mean_a_container_so_utilisation_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NVML lists host pids inside a container: they do not exist here, so the lists say
    # nothing about this run.
    stranger = {**H200, "utilization_gpu": 90, "processes": [{"pid": 2**22 + 7, "used_memory": 1}]}
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(_fake_gpus(tmp_path, [stranger])))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with _Child() as child:
        totals = _meter_totals(child)
    assert totals["gpu_attribution"] == "utilization" and totals["gpu_count"] == 1


def test_energy_counter_that_goes_backwards_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _fake_gpus(tmp_path, [H200])
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(path))
    with _Child() as child:
        meter = ResourceMeter(child.pid, 3600)
        sampler = _started_sampler(child, meter)
        spec = json.loads(path.read_text())
        spec["gpus"][0]["total_energy_mj"] = 10  # the driver was reloaded
        path.write_text(json.dumps(spec) + " ")  # a new size: the fake reads it again
        sampler.sample_once()
        sampler.stop()
        totals = meter.totals()
    assert "energy_wh" not in totals["gpus"][0] and "gpu_energy_wh" not in totals


def test_no_gpu_no_gpu_totals() -> None:
    with _Child() as child:
        totals = _meter_totals(child, samples=1)
    assert not any(key.startswith(("gpu", "peak_gpu", "mean_gpu")) for key in totals)


def test_visible_devices_parsing() -> None:
    from gitruns.capture.resources import _GpuStats

    gpus = {i: _GpuStats(i, {"uuid": f"GPU-{i}{i}{i}"}) for i in range(3)}
    assert visible_devices(None, gpus) is None
    assert visible_devices("0,2", gpus) == {0, 2}
    assert visible_devices("GPU-111", gpus) == {1}
    assert visible_devices("GPU-2", gpus) == {2}  # a unique prefix
    assert visible_devices("-1", gpus) == set()
    assert visible_devices("1,-1,2", gpus) == {1}  # CUDA stops at the first bad entry
    assert visible_devices("", gpus) == set()


def test_fake_nvml_lists_processes_and_energy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _fake_gpus(tmp_path, [{**H200, "processes": [{"pid": 42, "used_memory": None}]}, A100])
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(path))
    sampler = GpuSampler()
    try:
        assert sampler.identities() == {
            0: {"name": "NVIDIA H200", "uuid": H200["uuid"]},
            1: {"name": A100["name"], "uuid": A100["uuid"]},
        }
        assert sampler.energy_mj() == {0: 1_000_000}  # the A100 entry has no counter
        assert sampler.processes() == {0: {42: None}, 1: None}
    finally:
        sampler.close()


def test_wait_with_usage_reports_the_kernels_count() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass",
        ]
    )
    code, usage = wait_with_usage(child)
    assert code == 0 and child.returncode == 0
    assert usage is not None and usage.user_s + usage.system_s >= 0.3
    assert usage.max_rss_bytes > MIB
    failing = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert wait_with_usage(failing)[0] == 3
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    killed.send_signal(signal.SIGTERM)
    assert wait_with_usage(killed)[0] == -signal.SIGTERM


# -- cost estimates ----------------------------------------------------------------------------
def test_cost_estimate_is_never_guessed() -> None:
    resources = {
        "cpu_hours": 2.0,
        "gpus": [
            {"index": 0, "used": True, "name": "NVIDIA H200", "hours": 1.5},
            {"index": 1, "used": False, "name": "NVIDIA A100", "hours": 0.0},
        ],
    }
    assert costs.estimate(resources, costs.CostRates()) is None
    only_cpu = costs.estimate(resources, costs.CostRates(cpu_hour=0.5))
    assert only_cpu == {"cpu": 1.0, "cpu_hour_rate": 0.5, "total": 1.0}
    # A rate for another model only: the H200's GPU-hours have no price, so no GPU cost.
    other = costs.CostRates(gpu_hour_by_model={"nvidia a100": 3.0})
    assert costs.estimate(resources, other) is None
    both = costs.estimate(
        resources, costs.CostRates(gpu_hour=2.0, gpu_hour_by_model={"nvidia h200": 4.0})
    )
    assert both is not None
    assert both["gpu"] == 6.0 and both["total"] == 6.0
    assert both["gpu_hour_rates"] == [{"model": "NVIDIA H200", "rate": 4.0}]


def test_configured_rates_come_from_git_config(repo: Path) -> None:
    git(repo, "config", "gitruns.resources.gpuHourCost", "2.5")
    git(repo, "config", "gitruns.resources.NVIDIA H200.gpuHourCost", "4.1")
    git(repo, "config", "gitruns.resources.cpuHourCost", "not a number")
    rates = costs.configured_rates(gitruns.api.open_store())
    assert rates.gpu_hour == 2.5 and rates.for_gpu("NVIDIA H200") == 4.1
    assert rates.for_gpu("Tesla T4") == 2.5 and rates.cpu_hour is None


# -- queries -----------------------------------------------------------------------------------
def _run_with(name: str, resources: dict[str, Any] | None, acc: float) -> str:
    with gitruns.start_run(name=name) as run:
        run.log_metric("acc", acc)
        if resources is not None:
            run.set_fields(resources=resources)
    return run.id


def test_filter_and_sort_by_resource_totals(repo: Path) -> None:
    gpu = {"index": 0, "used": True, "name": "NVIDIA H200", "hours": 0.5}
    _run_with(
        "big", {"gpu_hours": 2.0, "cpu_s": 10.0, "gpus": [{**gpu, "peak_memory_mb": 70000.0}]}, 0.9
    )
    _run_with(
        "small", {"gpu_hours": 0.5, "cpu_s": 99.0, "gpus": [{**gpu, "peak_memory_mb": 900.0}]}, 0.8
    )
    _run_with("cpu-only", {"gpu_hours": 0.0, "cpu_s": 50.0, "cost": {"total": 1.25}}, 0.7)
    _run_with("before-totals", None, 0.6)  # a run recorded before resource totals

    def names(*args: str) -> list[str]:
        result = gitruns_cli(repo, "ls", "--format", "json", *args)
        assert result.returncode == 0, result.stderr
        return [row["name"] for row in json.loads(result.stdout)]

    assert names("-s", "-resources.gpu_hours") == ["big", "small", "cpu-only", "before-totals"]
    assert names("-s", "resources.cpu_s") == ["big", "cpu-only", "small", "before-totals"]
    assert names("-f", "resources.gpu_hours > 0.1 and metrics.acc > 0.85") == ["big"]
    assert names("-f", "resources.gpus.0.peak_memory_mb >= 1000") == ["big"]
    assert names("-f", "resources.cost.total = 1.25") == ["cpu-only"]
    assert names("-f", "resources.gpu_hours is null") == ["before-totals"]
    table = gitruns_cli(repo, "ls", "-s", "-resources.gpu_hours", "-c", "name,resources.gpu_hours")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["name", "gpu_hours"]  # the prefix dropped: unambiguous
    assert lines[2].split() == ["big", "2"] and lines[-1].split() == ["before-totals"]
    bad = gitruns_cli(repo, "ls", "-f", "resourcez.gpu_hours > 1")
    assert bad.returncode == 1 and "resources.<total>" in bad.stderr


def test_a_run_with_invalid_totals_is_refused_when_written(repo: Path) -> None:
    from gitruns.errors import InvalidRunError

    with pytest.raises(InvalidRunError, match="resources"):
        _run_with("negative", {"cpu_s": -1.0}, 0.5)
