"""The package list cache (capture/package_cache.py): reused while nothing changed, read
again after a real ``pip install`` / upgrade / ``uninstall`` into a real virtual env."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _record_helpers import record, run_file

from gitruns.capture import _probe
from gitruns.capture.package_cache import cached_facts


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A real, minimal wheel of a pure-Python package, as a build backend writes it."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record_lines = [f"{path},," for path in files] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _pip(venv_python: Path, *args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv_python),
            *args,
            "--no-index",
            "--disable-pip-version-check",
            "-q",
        ]
        if args[0] == "install"
        else [sys.executable, "-m", "pip", "--python", str(venv_python), *args, "-q"],
        check=True,
        capture_output=True,
    )


def _recorded_packages(repo: Path, python: Path) -> list[str]:
    done = record(repo, "--", str(python), "-c", "pass")
    assert done.returncode == 0, done.stderr
    run_id = re.search(rb"recording run (\S+)", done.stderr)
    assert run_id is not None
    text = run_file(repo, run_id.group(1).decode(), "env/packages.txt").decode()
    return text.splitlines()


def _cache_entries(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "gitruns" / "packages").glob("*.json"))


@pytest.mark.slow
def test_install_upgrade_and_uninstall_change_the_recorded_list(repo: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    wheels.mkdir()

    assert not any(line.startswith("demo-pkg") for line in _recorded_packages(repo, python))
    assert len(_cache_entries(repo)) == 1  # the venv's answer is kept

    # Its cached answer is what the next run reads: planted, it shows up
    entry = _cache_entries(repo)[0]
    stored = json.loads(entry.read_text())
    stored["facts"]["packages"].append("planted==0.0")
    entry.write_text(json.dumps(stored))
    assert "planted==0.0" in _recorded_packages(repo, python)

    _pip(python, "install", str(_wheel(wheels, "demo_pkg", "1.0")))
    listed = _recorded_packages(repo, python)
    assert "demo_pkg==1.0" in listed and "planted==0.0" not in listed

    _pip(python, "install", "--upgrade", str(_wheel(wheels, "demo_pkg", "2.0")))
    listed = _recorded_packages(repo, python)
    assert "demo_pkg==2.0" in listed and "demo_pkg==1.0" not in listed

    _pip(python, "uninstall", "-y", "demo_pkg")
    assert not any(line.startswith("demo_pkg") for line in _recorded_packages(repo, python))
    assert len(_cache_entries(repo)) == 1  # one interpreter, one working folder


def test_the_cache_can_be_turned_off(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _recorded_packages(repo, Path(sys.executable))
    (entry,) = _cache_entries(repo)
    stored = json.loads(entry.read_text())
    stored["facts"]["packages"].append("planted==0.0")
    entry.write_text(json.dumps(stored))
    assert "planted==0.0" in _recorded_packages(repo, Path(sys.executable))
    monkeypatch.setenv("GITRUNS_PACKAGE_CACHE", "0")
    assert "planted==0.0" not in _recorded_packages(repo, Path(sys.executable))


def test_a_new_dist_info_folder_invalidates_the_answer(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    facts = {
        "version": "3",
        "implementation": "CPython",
        "executable": sys.executable,
        "packages": ["a==1"],
        "path": [str(site)],
        "user_site": None,
        "fingerprint": _probe.fingerprint([str(site)], None),
        "cacheable": True,
    }
    calls: list[str] = []

    def probe(python: str) -> dict[str, object]:
        calls.append(python)
        return {**facts, "fingerprint": _probe.fingerprint([str(site)], None)}

    cache = tmp_path / "cache"
    wrapper = tmp_path / "python"
    wrapper.write_text("#!/bin/sh\n")
    assert cached_facts(str(wrapper), cache, probe, in_process=False)["packages"] == ["a==1"]
    assert cached_facts(str(wrapper), cache, probe, in_process=False)["packages"] == ["a==1"]
    assert len(calls) == 1  # the second answer came from the cache
    (site / "b-2.dist-info").mkdir()
    (site / "b-2.dist-info" / "METADATA").write_text("Name: b\nVersion: 2\n")
    cached_facts(str(wrapper), cache, probe, in_process=False)
    assert len(calls) == 2  # an install: probed again
    (site / "b-2.dist-info" / "METADATA").write_text("Name: b\nVersion: 2.0.1\n")
    cached_facts(str(wrapper), cache, probe, in_process=False)
    assert len(calls) == 3  # metadata rewritten in place: probed again
    (site / "x.pth").write_text(str(tmp_path) + "\n")
    cached_facts(str(wrapper), cache, probe, in_process=False)
    assert len(calls) == 4  # a .pth file can change sys.path: probed again
    cached_facts(str(wrapper), cache, probe, in_process=False)
    assert len(calls) == 4


def test_uncacheable_facts_are_not_kept(tmp_path: Path) -> None:
    calls: list[str] = []

    def probe(python: str) -> dict[str, object]:
        calls.append(python)
        return {"packages": [], "path": [], "fingerprint": [], "cacheable": False}

    for _ in range(2):
        cached_facts(sys.executable, tmp_path, probe, in_process=True)
    assert len(calls) == 2 and not list(tmp_path.iterdir())


_SAME_THROUGH_THE_CACHE = """
import sys
from pathlib import Path
from gitruns.capture import environment
from gitruns.capture.environment import installed_packages
cache = Path(sys.argv[1])
direct = installed_packages(sys.executable)
assert direct, "no packages listed"
assert installed_packages(sys.executable, cache) == direct  # probed, then kept
assert len(list(cache.iterdir())) == 1
environment._probe.cache_clear()
assert installed_packages(sys.executable, cache) == direct  # read from the cache
"""


def test_this_interpreters_list_is_the_same_through_the_cache(tmp_path: Path) -> None:
    # In a fresh interpreter: the test process's own state (finders other tests left on
    # sys.meta_path, probes they cached) is not what a recorded program starts with.
    done = subprocess.run(
        [sys.executable, "-c", _SAME_THROUGH_THE_CACHE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
