"""Runs with fixed content for show/diff/compare tests and golden files.

Runs are written through the real API, then "pinned": their commit is rewritten with a
fixed id, times, user and host (and extra files such as env/), so rendered output is
byte-for-byte stable. Only the code commits of the test repository still vary; golden
comparisons mask them with placeholders of the same length.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

import gitruns
from gitruns.format import layout, yamlio
from gitruns.storage import Store

GOLDEN = Path(__file__).parent / "golden"
BASE_TIME = 1_795_000_000.0  # 2026-11-18T...


def make_run(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    metrics: Mapping[str, list[float]] | None = None,
    status: str = "FINISHED",
    parents: tuple[str, ...] = (),
    artifacts: Mapping[str, bytes] | None = None,
    inputs: Mapping[str, bytes] | None = None,
) -> str:
    run = gitruns.start_run(name=name, params=params, tags=tags, parents=parents)
    for key, values in (metrics or {}).items():
        for step, value in enumerate(values):
            run.log_metric(key, value, step=step, timestamp=BASE_TIME + step)
    outside = Path.cwd().parent / "files"  # next to the repository: it stays clean
    outside.mkdir(exist_ok=True)
    for file_name, content in (artifacts or {}).items():
        (outside / file_name).write_bytes(content)
        run.log_artifact(outside / file_name)
    for file_name, content in (inputs or {}).items():
        (outside / file_name).write_bytes(content)
        run.log_input(f"../files/{file_name}")
    run.end(status)
    gitruns.recording.stack.forget_run(run)
    return run.id


def pin_run(
    repo: Path,
    run_id: str,
    new_id: str,
    *,
    start: float,
    duration: float,
    files: Mapping[str, bytes] | None = None,
    commit_map: dict[str, str] | None = None,
    id_map: Mapping[str, str] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> str:
    """Rewrite run ``run_id`` as ``new_id`` with fixed times (artifacts logged a second
    after the start), user, host, extra files and resource totals."""
    store = Store(repo)
    old = store.run_commit(run_id)
    assert old is not None
    tree = dict(store.iter_files(old))
    document = yaml.safe_load(tree[layout.RUN_FILE])
    document.update(
        id=new_id,
        start_time=layout.iso_time(start),
        end_time=layout.iso_time(start + duration),
        duration_s=duration,
        user={"name": "Ada", "email": "ada@example.com", "os_user": "ada"},
        host="gpu-box",
    )
    document["parents"] = [(id_map or {}).get(p, p) for p in document["parents"]]
    if resources is not None:
        document["resources"] = dict(resources)
    # What the API captured about this machine and test process varies: drop it.
    document.pop("command", None)
    document.pop("environment", None)
    tree = {path: data for path, data in tree.items() if not path.startswith("env/")}
    tree[layout.RUN_FILE] = yamlio.dump(document)
    artifacts = yaml.safe_load(tree[layout.ARTIFACTS_FILE])
    for pointer in artifacts:
        pointer["time"] = layout.iso_time(start + 1)
    tree[layout.ARTIFACTS_FILE] = yamlio.dump(artifacts)
    tree.update(files or {})
    parents, _author, message, _when = store.commit_info(old)
    parents = [(commit_map or {}).get(p, p) for p in parents]
    new = store.create_run_commit(tree, parents, message, start + duration)
    assert store.create_ref(new_id, new)
    assert store.delete_ref(run_id, old)
    if commit_map is not None:
        commit_map[old] = new
    return new


def platform_yaml(python: str, gpu: str | None) -> bytes:
    gpus = [{"index": 0, "name": gpu, "driver_version": "550.54", "cuda_version": "12.4"}]
    return yamlio.dump(
        {
            "python": {"version": python, "implementation": "CPython"},
            "os": {"system": "Linux", "release": "6.1.0", "machine": "x86_64"},
            "cpu": {"model": "AMD EPYC 7763", "logical_count": 64},
            "memory_total_mb": 515_000,
            "gpus": gpus if gpu else [],
        }
    )


def mask(text: str, replacements: Mapping[str, str]) -> str:
    """Replace each volatile string (and its 12-character prefix) by a same-length label."""
    for value, name in replacements.items():
        for length in (len(value), 12):
            text = text.replace(value[:length], f"<{name}>".ljust(length, "."))
    return text


def check_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites the file."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    expected = path.read_text()
    assert actual == expected, f"{name} differs; rerun with UPDATE_GOLDEN=1 to update"


def hex_ids(text: str) -> list[str]:
    return re.findall(r"\b[0-9a-f]{40}\b", text)


RESOURCES_A: dict[str, Any] = {
    "wall_s": 125.0,
    "cpu_s": 250.0,
    "cpu_user_s": 240.0,
    "cpu_system_s": 10.0,
    "cpu_hours": 0.069444,
    "peak_rss_mb": 2048.0,
    "gpu_count": 1,
    "gpu_hours": 0.034722,
    "gpu_attribution": "processes",
    "peak_gpu_memory_mb": 40000.0,
    "peak_gpu_utilization_percent": 100.0,
    "mean_gpu_utilization_percent": 80.0,
    "gpu_energy_wh": 10.5,
    "gpus": [
        {
            "index": 0,
            "used": True,
            "name": "NVIDIA A100-SXM4-80GB",
            "hours": 0.034722,
            "peak_utilization_percent": 100.0,
            "mean_utilization_percent": 80.0,
            "peak_memory_mb": 40000.0,
            "energy_wh": 10.5,
        }
    ],
    "cost": {
        "total": 0.0868,
        "gpu": 0.0868,
        "gpu_hour_rates": [{"model": "NVIDIA A100-SXM4-80GB", "rate": 2.5}],
    },
}
RESOURCES_B: dict[str, Any] = {
    **RESOURCES_A,
    "wall_s": 250.5,
    "cpu_s": 400.0,
    "cpu_user_s": 380.0,
    "cpu_system_s": 20.0,
    "cpu_hours": 0.111111,
    "gpu_hours": 0.069583,
    "disk_read_bytes": 1_073_741_824,
    "disk_write_bytes": 52_428_800,
    "net_sent_bytes": 1024,
    "net_recv_bytes": 2_097_152,
    "samples": 26,
    "sample_interval_s": 10.0,
    "gpus": [
        {**RESOURCES_A["gpus"][0], "name": "NVIDIA H100 80GB HBM3", "hours": 0.069583},
        {"index": 1, "used": False, "name": "NVIDIA H100 80GB HBM3", "hours": 0.0},
    ],
    "cost": {
        "total": 0.3174,
        "gpu": 0.2783,
        "cpu": 0.0391,
        "gpu_hour_rates": [{"model": "NVIDIA H100 80GB HBM3", "rate": 4.0}],
        "cpu_hour_rate": 0.35,
        "currency": "USD",
    },
}
ID_A = "01937f00-0000-7000-8000-00000000000a"
ID_B = "01937f00-0000-7000-8000-00000000000b"
ID_C = "01937f00-0000-7000-8000-00000000000c"


def build_pair(repo: Path) -> dict[str, str]:
    """Runs ``baseline`` (A) and ``tuned`` (B, a child of A) on two code commits, plus
    ``third`` (C); returns the masks for the code commits."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    code_a = git("rev-parse", "HEAD")
    run_a = make_run(
        "baseline",
        params={"lr": 0.1, "layers": 2, "optimizer": {"name": "adam", "beta": 0.9}},
        tags={"model": "mlp", "dataset": "v1"},
        metrics={
            "loss": [1.0, 0.6, 0.4, 0.3],
            "acc": [0.5, 0.7, 0.8],
            "zero": [0.0],
            "steady": [2.0],
        },
    )
    (repo / "train.py").write_text("print('training')\nschedule = 'cosine'\n")
    (repo / "data.py").write_text("DATA = 'v2'\n")
    git("add", "train.py", "data.py")
    git("commit", "-q", "-m", "cosine schedule; data v2")
    code_b = git("rev-parse", "HEAD")
    run_b = make_run(
        "tuned",
        params={"lr": 0.01, "layers": 2, "dropout": 0.1, "optimizer": {"name": "sgd", "beta": 0.9}},
        tags={"model": "mlp", "dataset": "v2", "reviewed": "yes"},
        metrics={
            "loss": [0.9, 0.4, 0.2, 0.15],
            "acc": [0.6, 0.8, 0.9],
            "zero": [0.5],
            "steady": [2.0],
            "f1": [0.85],
            "unstable": [float("nan")],
        },
        status="FAILED",
        parents=(run_a,),
        artifacts={"model.pt": b"weights" * 1000},
        inputs={"train.csv": b"x,y\n1,2\n"},
    )
    run_c = make_run("third", params={"lr": 0.001, "layers": 3}, metrics={"loss": [0.8, 0.5]})
    packages_a = b"numpy==1.26.0\nrequests==2.31.0\nscipy==1.11.0\ntorch==2.1.0\n"
    packages_b = b"numpy==2.0.0\npandas==2.2.0\nrequests==2.31.0\ntorch==2.0.1\n"
    commits: dict[str, str] = {}
    pin_run(
        repo,
        run_a,
        ID_A,
        start=BASE_TIME,
        duration=125.0,
        commit_map=commits,
        files={
            "env/platform.yaml": platform_yaml("3.11.7", "NVIDIA A100-SXM4-80GB"),
            "env/packages.txt": packages_a,
        },
        resources=RESOURCES_A,
    )
    pin_run(
        repo,
        run_b,
        ID_B,
        start=BASE_TIME + 3600,
        duration=250.5,
        commit_map=commits,
        id_map={run_a: ID_A},
        files={
            "env/platform.yaml": platform_yaml("3.12.1", "NVIDIA H100 80GB HBM3"),
            "env/packages.txt": packages_b,
        },
        resources=RESOURCES_B,
    )
    pin_run(repo, run_c, ID_C, start=BASE_TIME + 7200, duration=30.0)
    return {code_a: "code-a", code_b: "code-b"}
