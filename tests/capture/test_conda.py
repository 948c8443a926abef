"""Conda environments, laid out as conda lays them out: ``<prefix>/conda-meta/*.json``
records as conda writes them, a ``history`` file, ``bin/python`` and ``site-packages``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _record_helpers import record, run_file
from conftest import gitruns_cli

from gitruns.capture import conda

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"lib/{PY}/site-packages"
# name=version=build, the pin `conda env export` writes
PIN = re.compile(r"^[A-Za-z0-9_.\-]+=[^=\s]+=[^=\s]+$")


def _record_json(
    name: str,
    version: str,
    build: str,
    channel: str,
    subdir: str,
    files: list[str],
    prefix: Path,
) -> dict[str, Any]:
    """A conda-meta record with the fields conda writes (a PrefixRecord)."""
    fn = f"{name}-{version}-{build}.conda"
    base = channel.rstrip("/")
    return {
        "build": build,
        "build_number": 0,
        "channel": channel,
        "constrains": [],
        "depends": ["python >=3.11,<3.12.0a0"] if name != "python" else [],
        "extracted_package_dir": f"/opt/conda/pkgs/{name}-{version}-{build}",
        "files": files,
        "fn": fn,
        "license": "BSD-3-Clause",
        "link": {"source": f"/opt/conda/pkgs/{name}-{version}-{build}", "type": 1},
        "md5": "0" * 32,
        "name": name,
        "package_tarball_full_path": f"/opt/conda/pkgs/{fn}",
        "paths_data": {
            "paths": [
                {"_path": f, "path_type": "hardlink", "sha256": "1" * 64, "size_in_bytes": 1}
                for f in files
            ],
            "paths_version": 1,
        },
        "requested_spec": name if name in ("python", "numpy", "pytorch") else "",
        "sha256": "2" * 64,
        "size": 1234,
        "subdir": subdir,
        "timestamp": 1700000000000,
        "url": f"{base if base.endswith(subdir) else base + '/' + subdir}/{fn}",
        "version": version,
    }


def _dist_info(name: str, version: str) -> list[str]:
    folder = f"{SITE}/{name}-{version}.dist-info"
    return [f"{folder}/METADATA", f"{folder}/RECORD", f"{folder}/INSTALLER"]


def make_conda_env(root: Path, name: str = "myenv", manager: str = "conda") -> Path:
    """``<root>/envs/<name>``: a conda environment with conda-forge, defaults and pytorch
    packages, and one distribution pip installed on top."""
    prefix = root / "envs" / name
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    (root / "conda-meta").mkdir(parents=True)  # the installation's own base environment
    (root / "condabin").mkdir()
    forge = "https://conda.anaconda.org/conda-forge"
    records = [
        (
            "python",
            "3.11.7",
            "hab00c5b_1_cpython",
            f"{forge}/linux-64",
            "linux-64",
            [f"bin/{PY}", f"lib/{PY}/os.py"],
        ),
        (
            "numpy",
            "1.26.4",
            "py311h64a7726_0",
            f"{forge}/linux-64",
            "linux-64",
            [f"{SITE}/numpy/__init__.py", *_dist_info("numpy", "1.26.4")],
        ),
        (
            "pip",
            "24.0",
            "pyhd8ed1ab_0",
            f"{forge}/noarch",
            "noarch",
            [f"{SITE}/pip/__init__.py", *_dist_info("pip", "24.0")],
        ),
        (
            "pyyaml",
            "6.0.1",
            "py311h459d7ec_1",
            f"{forge}/linux-64",
            "linux-64",
            [f"{SITE}/yaml/__init__.py", *_dist_info("PyYAML", "6.0.1")],
        ),
        (
            "libgcc-ng",
            "13.2.0",
            "h807b86a_5",
            f"{forge}/linux-64",
            "linux-64",
            ["lib/libgcc_s.so.1"],
        ),
        # pytorch's conda package installs the distribution "torch"
        (
            "pytorch",
            "2.3.0",
            "py3.11_cuda12.1_cudnn8.9.2_0",
            "https://conda.anaconda.org/pytorch",
            "linux-64",
            [f"{SITE}/torch/__init__.py", *_dist_info("torch", "2.3.0")],
        ),
        (
            "openssl",
            "3.0.13",
            "h7f8727e_0",
            "https://repo.anaconda.com/pkgs/main/linux-64",
            "linux-64",
            ["lib/libssl.so.3"],
        ),
    ]
    for pkg, version, build, channel, subdir, files in records:
        data = _record_json(pkg, version, build, channel, subdir, files, prefix)
        (meta / f"{pkg}-{version}-{build}.json").write_text(json.dumps(data, indent=2))
    (meta / "history").write_text(
        "==> 2024-05-01 10:00:00 <==\n"
        f"# cmd: /opt/conda/bin/{manager} create -n {name} python=3.11 numpy pytorch\n"
        "# conda version: 24.3.0\n"
        "+conda-forge/linux-64::python-3.11.7-hab00c5b_1_cpython\n"
        "# update specs: ['python=3.11', 'numpy', 'pytorch']\n"
    )
    # site-packages as the packages left it, plus what pip installed on top (wandb)
    site = prefix / SITE
    for dist, version in (
        ("numpy", "1.26.4"),
        ("pip", "24.0"),
        ("PyYAML", "6.0.1"),
        ("torch", "2.3.0"),
        ("wandb", "0.17.0"),
    ):
        info = site / f"{dist}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n" if dist == "wandb" else "conda\n")
    # bin/python: the interpreter, pointed at this environment's site-packages (a real
    # conda Python finds it by itself; a test borrows the one running the tests)
    bin_dir = prefix / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return prefix


@pytest.fixture
def conda_env(tmp_path: Path) -> Path:
    return make_conda_env(tmp_path / "miniforge3")


def test_reads_the_environment_from_conda_meta(conda_env: Path) -> None:
    pip_list = "numpy==1.26.4\npip==24.0\nPyYAML==6.0.1\ntorch==2.3.0\nwandb==0.17.0\n"
    env = conda.read_environment(conda_env, pip_list)
    assert env.name == "myenv" and env.prefix == str(conda_env) and env.manager == "conda"
    by_name = {p.name: p for p in env.packages}
    assert set(by_name) == {"python", "numpy", "pip", "pyyaml", "libgcc-ng", "pytorch", "openssl"}
    assert by_name["numpy"].channel == "conda-forge" and by_name["numpy"].subdir == "linux-64"
    assert by_name["pip"].channel == "conda-forge" and by_name["pip"].subdir == "noarch"
    assert by_name["pytorch"].channel == "pytorch"
    assert by_name["openssl"].channel == "defaults"
    assert env.channels == ["conda-forge", "defaults", "pytorch"]  # most packages first
    assert {"numpy", "pip", "pyyaml", "torch"} <= env.provided
    assert env.pip == ["wandb==0.17.0"]  # torch and PyYAML came from conda


def test_environment_yml_round_trips_through_yaml(conda_env: Path) -> None:
    env = conda.read_environment(conda_env, "torch==2.3.0\nwandb==0.17.0\n")
    text = conda.environment_yml(env)
    document = yaml.safe_load(text)
    assert list(document) == ["name", "channels", "dependencies"]
    assert document["name"] == "myenv"
    assert document["channels"] == ["conda-forge", "defaults", "pytorch"]
    *pins, pip_part = document["dependencies"]
    assert all(isinstance(p, str) and PIN.match(p) for p in pins), pins
    assert "numpy=1.26.4=py311h64a7726_0" in pins
    assert "pytorch=2.3.0=py3.11_cuda12.1_cudnn8.9.2_0" in pins
    assert pip_part == {"pip": ["wandb==0.17.0"]}
    assert "prefix" not in document  # so that it can be created anywhere
    assert yaml.safe_dump(document, sort_keys=False, width=1000) == text


def test_a_pip_part_brings_pip_along(tmp_path: Path) -> None:
    prefix = make_conda_env(tmp_path / "root")
    for pip_record in (prefix / "conda-meta").glob("pip-*.json"):
        pip_record.unlink()
    env = conda.read_environment(prefix, "wandb==0.17.0\npip==24.0\n")
    dependencies = yaml.safe_load(conda.environment_yml(env))["dependencies"]
    assert dependencies[-2:] == ["pip", {"pip": ["wandb==0.17.0", "pip==24.0"]}]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [("envs/work", "work"), ("", "base"), ("elsewhere/proj-env", None)],
)
def test_environment_names(tmp_path: Path, layout: str, expected: str | None) -> None:
    root = tmp_path / "mambaforge"
    (root / "condabin").mkdir(parents=True)
    prefix = root / layout if layout != "elsewhere/proj-env" else tmp_path / layout
    (prefix / "conda-meta").mkdir(parents=True, exist_ok=True)
    assert conda.environment_name(prefix, {}) == expected


def test_the_active_environment_names_itself(tmp_path: Path) -> None:
    prefix = tmp_path / "proj-env"
    (prefix / "conda-meta").mkdir(parents=True)
    active = {"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": "proj"}
    assert conda.environment_name(prefix, active) == "proj"
    by_path = {"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": str(prefix)}
    assert conda.environment_name(prefix, by_path) is None


def test_only_conda_interpreters_are_conda(tmp_path: Path, conda_env: Path) -> None:
    assert conda.find_prefix(str(conda_env / "bin" / "python")) == conda_env
    assert conda.find_prefix(str(conda_env / "python.exe")) == conda_env  # Windows layout
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /opt/conda/bin\n")
    (venv / "bin" / "python").symlink_to(conda_env / "bin" / "python")
    assert conda.find_prefix(str(venv / "bin" / "python")) is None  # a venv from conda
    assert conda.find_prefix(sys.executable) is None


def test_damaged_and_pip_records_are_skipped(conda_env: Path) -> None:
    meta = conda_env / "conda-meta"
    (meta / "broken-1.0-0.json").write_text('{"name": "broken", "vers')
    pypi = {"name": "requests", "version": "2.31.0", "build": "pypi_0", "channel": "pypi"}
    (meta / "requests-2.31.0-pypi_0.json").write_text(json.dumps(pypi))
    (meta / "odd-1.json").write_text("[1, 2]")
    names = {p.name for p in conda.read_environment(conda_env).packages}
    assert not {"broken", "requests", "odd"} & names and "numpy" in names


def test_managers_from_history(tmp_path: Path) -> None:
    for manager in ("mamba", "micromamba"):
        prefix = make_conda_env(tmp_path / manager, manager=manager)
        assert conda.read_environment(prefix).manager == manager


def test_record_captures_the_conda_environment(repo: Path, conda_env: Path) -> None:
    python = str(conda_env / "bin" / "python")
    result = record(repo, "--", python, "-c", "print('in conda')")
    assert result.returncode == 0, result.stderr
    run_id = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)[0]["id"]
    stored = yaml.safe_load(run_file(repo, run_id, "env/conda.yaml"))
    assert stored["name"] == "myenv" and stored["prefix"] == str(conda_env)
    numpy = next(p for p in stored["packages"] if p["name"] == "numpy")
    assert numpy == {
        "name": "numpy",
        "version": "1.26.4",
        "build": "py311h64a7726_0",
        "channel": "conda-forge",
        "subdir": "linux-64",
    }
    assert stored["pip"] and "wandb==0.17.0" in stored["pip"]
    assert not any(line.lower().startswith(("numpy==", "torch==")) for line in stored["pip"])
    recorded_yml = run_file(repo, run_id, "env/environment.yml").decode()
    assert yaml.safe_load(recorded_yml)["name"] == "myenv"
    # the pip list stays, with every distribution the interpreter could import
    packages = run_file(repo, run_id, "env/packages.txt").decode()
    assert "wandb==0.17.0" in packages and "torch==2.3.0" in packages

    shown = gitruns_cli(repo, "show", run_id, "--format", "json").stdout
    assert json.loads(shown)["environment"]["conda"] == {"name": "myenv", "prefix": str(conda_env)}
    text = gitruns_cli(repo, "show", run_id).stdout
    assert "conda           myenv (" in text  # the prefix path is cut to the width
    assert "conda packages  7 (env/conda.yaml)" in text

    as_conda = gitruns_cli(repo, "env", run_id)  # conda is the default here
    assert as_conda.returncode == 0 and as_conda.stdout == recorded_yml
    requirements = gitruns_cli(repo, "env", run_id, "--format", "requirements").stdout
    lines = [line for line in requirements.splitlines() if not line.startswith("#")]
    assert "wandb==0.17.0" in lines and not any(line.startswith("torch==") for line in lines)
    assert "--format conda" in requirements  # points to the conda part
    pip = gitruns_cli(repo, "env", run_id, "--format", "pip").stdout
    assert pip == packages


def test_env_of_a_run_outside_conda(repo: Path) -> None:
    result = record(repo, "--", sys.executable, "-c", "pass")
    assert result.returncode == 0, result.stderr
    run_id = json.loads(gitruns_cli(repo, "ls", "--format", "json").stdout)[0]["id"]
    assert run_file(repo, run_id, "env/packages.txt")
    missing = gitruns_cli(repo, "env", run_id, "--format", "conda")
    assert missing.returncode == 1
    assert (
        missing.stderr.startswith("gitruns: error: run ") and "not run in a conda" in missing.stderr
    )
    default = gitruns_cli(repo, "env", run_id)
    assert default.returncode == 0 and default.stdout.startswith("# requirements of run ")
    assert "pygit2==" in default.stdout


def test_env_of_an_api_run_without_packages(repo: Path) -> None:
    from _compare_helpers import pin_run

    import gitruns
    from gitruns.format.ids import new_run_id

    with gitruns.start_run(name="bare") as run:
        pass
    bare = new_run_id()
    pin_run(repo, run.id, bare, start=1.7e9, duration=1.0)  # its env/ files left out
    result = gitruns_cli(repo, "env", bare, "--format", "pip")
    assert result.returncode == 1 and "recorded no package list" in result.stderr


def test_diff_shows_conda_package_changes(repo: Path, conda_env: Path) -> None:
    python = str(conda_env / "bin" / "python")
    assert record(repo, "-n", "before", "--", python, "-c", "pass").returncode == 0
    meta = conda_env / "conda-meta"
    old = json.loads((meta / "numpy-1.26.4-py311h64a7726_0.json").read_text())
    (meta / "numpy-1.26.4-py311h64a7726_0.json").unlink()
    new = {**old, "version": "2.0.0", "build": "py311h1461c94_0"}
    (meta / "numpy-2.0.0-py311h1461c94_0.json").write_text(json.dumps(new))
    rebuilt = {**old, "build": "py311h64a7726_1", "name": "openssl", "version": "3.0.13"}
    for path in meta.glob("openssl-*.json"):
        path.unlink()
    (meta / "openssl-3.0.13-py311h64a7726_1.json").write_text(json.dumps(rebuilt))
    assert record(repo, "-n", "after", "--", python, "-c", "pass").returncode == 0
    data = json.loads(gitruns_cli(repo, "diff", "before", "after", "--format", "json").stdout)
    changes = {c["key"]: (c["a"], c["b"], c["change"]) for c in data["conda"]}
    assert changes == {
        "numpy": ("1.26.4=py311h64a7726_0", "2.0.0=py311h1461c94_0", "upgraded"),
        "openssl": ("3.0.13=h7f8727e_0", "3.0.13=py311h64a7726_1", "changed"),  # a new build
    }
    text = gitruns_cli(repo, "diff", "before", "after").stdout
    assert "\nconda\n" in text and "upgraded" in text
