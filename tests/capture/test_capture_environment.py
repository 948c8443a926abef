"""Platform facts, installed packages, and the GPU inventory (fake NVML, and no GPU)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _capture_helpers import A100, use_fake_nvml

import gitruns
from gitruns.capture import gpu
from gitruns.capture.environment import (
    child_interpreter,
    installed_packages,
    platform_info,
    python_info,
)
from gitruns.capture.gpu import gpu_inventory, load_nvml
from gitruns.errors import InvalidInputError


def test_installed_packages_of_this_interpreter() -> None:
    lines = installed_packages(sys.executable).splitlines()
    assert any(line.startswith("pygit2==") for line in lines)
    assert any(line.startswith("click==") for line in lines)
    assert all("==" in line for line in lines)
    assert lines == sorted(lines, key=str.lower)
    assert len({line.split("==")[0].lower() for line in lines}) == len(lines)


def test_installed_packages_of_another_interpreter_runs_a_probe(tmp_path: Path) -> None:
    # A symlink is another path to the same binary: samefile() sees through it, so use a
    # copy-free wrapper script instead to force the subprocess route.
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    text = installed_packages(str(wrapper))
    assert "pygit2==" in text and "click==" in text
    assert text.endswith("\n")
    assert python_info(str(wrapper))["version"] == platform.python_version()


def test_an_interpreter_that_fails_gives_no_packages(tmp_path: Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    assert installed_packages(str(broken)) == ""
    assert python_info(str(broken)) == {"executable": str(broken)}


def test_child_interpreter_resolves_python_on_the_childs_path(tmp_path: Path) -> None:
    here = os.path.dirname(sys.executable)
    env = {"PATH": here + os.pathsep + "/usr/bin"}
    name = os.path.basename(sys.executable)
    assert child_interpreter([name, "train.py"], env) == os.path.join(here, name)
    assert child_interpreter(["bash", "run.sh"], env) is None
    assert child_interpreter(["no-such-program-xyz"], env) is None
    assert child_interpreter([], env) is None


def test_child_interpreter_reads_a_scripts_shebang(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(f"#!/usr/bin/env -S {os.path.basename(sys.executable)} -u\nprint(1)\n")
    script.chmod(0o755)
    env = {"PATH": os.path.dirname(sys.executable)}
    assert child_interpreter([str(script)], env) == shutil.which(
        os.path.basename(sys.executable), path=env["PATH"]
    )


def test_platform_info_fields_are_plain_data() -> None:
    info = platform_info(sys.executable)
    assert info["gitruns_version"] == gitruns.__version__
    assert info["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert info["os"]["system"] == platform.system()
    assert info["os"]["machine"] == platform.machine()
    assert info["hostname"]
    assert info["cpu"]["model"]
    assert info["cpu"]["logical_count"] >= 1
    assert info["memory_total_mb"] > 0
    assert info["gpus"] == []  # no GPU on this machine
    assert yaml.safe_load(yaml.safe_dump(info)) == info


def test_platform_info_defaults_to_this_interpreter() -> None:
    assert platform_info()["python"]["executable"] == sys.executable


def test_no_gpu_driver_means_an_empty_inventory(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine has no NVIDIA driver: pynvml is not even imported (it costs every record).
    assert load_nvml() is None
    assert gpu_inventory() == []
    # The real pynvml, asked anyway, fails to start NVML quietly.
    monkeypatch.setattr(gpu, "_driver_present", lambda: True)
    assert load_nvml() is not None
    assert gpu_inventory() == []
    assert capfd.readouterr() == ("", "")


def test_fake_nvml_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second = {**A100, "uuid": "GPU-2", "name": "NVIDIA H100", "memory_total": 96 * 1024**3}
    use_fake_nvml(tmp_path, monkeypatch, [A100, second])
    common = {"driver_version": "550.54.15", "cuda_version": "12.4"}
    assert gpu_inventory() == [
        {
            "index": 0,
            "name": A100["name"],
            "uuid": A100["uuid"],
            "memory_total_mb": 81920,
            **common,
        },
        {"index": 1, "name": "NVIDIA H100", "uuid": "GPU-2", "memory_total_mb": 98304, **common},
    ]
    assert platform_info()["gpus"] == gpu_inventory()


def test_fake_nvml_without_driver_means_no_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fake_nvml(tmp_path, monkeypatch, [A100], no_driver=True)
    assert gpu_inventory() == []


def test_values_a_gpu_cannot_report_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = {"name": "Old GPU", "memory_total": None, "uuid": None}
    use_fake_nvml(tmp_path, monkeypatch, [bare], driver_version=None, cuda_version=None)
    assert gpu_inventory() == [{"index": 0, "name": "Old GPU"}]


def test_a_broken_fake_description_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"gpus": "many"}))
    monkeypatch.setenv("GITRUNS_FAKE_NVML", str(path))
    with pytest.raises(InvalidInputError, match="fake NVML"):
        gpu_inventory()


def test_importing_gitruns_does_not_load_capture_dependencies() -> None:
    code = "import sys, gitruns; print(sorted({'psutil', 'pynvml'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
