"""The machine and software a run ran on: platform facts and installed packages.

Facts about Python come from the interpreter the *child* runs (``python train.py`` may be a
different virtual environment from the one gitruns lives in). They are read with one short
``python -c`` probe (importlib.metadata, about 50-100 ms) instead of ``pip freeze`` (about a
second), shared by :func:`platform_info` and :func:`installed_packages`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitruns.capture import _probe as _probe_module
from gitruns.capture.executables import which

_PYTHON_NAME = re.compile(r"^(?:python|pypy)[0-9.]*(?:\.exe)?$")
_PROBE_TIMEOUT_S = 30.0
_MIB = 1024 * 1024
_PROBE_SOURCE = Path(_probe_module.__file__).read_text(encoding="utf-8")


def child_interpreter(argv: list[str], env: Mapping[str, str] | None = None) -> str | None:
    """The Python interpreter a command runs under, as an absolute path, or None.

    ``python``/``python3.11``/``/venv/bin/python`` is looked up on the child's PATH; a
    script or console entry point (``./train.py``, ``torchrun``) is read for its
    ``#!...python`` line. Anything else (``bash run.sh``) is None.
    """
    if not argv:
        return None
    path = (env or os.environ).get("PATH")
    program = which(argv[0], path=path)
    if _PYTHON_NAME.match(os.path.basename(argv[0])):
        return program
    if program is None:
        return None
    return _shebang_python(program, path)


def _shebang_python(program: str, path: str | None) -> str | None:
    try:
        with open(program, "rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = [word for word in words[1:] if not word.startswith("-")]
    if words and _PYTHON_NAME.match(os.path.basename(words[0])):
        return which(words[0], path=path)
    return None


@functools.lru_cache(maxsize=8)
def _probe(python: str, cache_dir: Path | None = None) -> dict[str, Any] | None:
    """Version, implementation, executable and packages of ``python``; None if it fails.

    With ``cache_dir`` (``.git/gitruns/packages``) the answer of an earlier run is reused
    while nothing was installed or removed since (``capture.package_cache``)."""
    if cache_dir is not None:
        from gitruns.capture import package_cache

        if package_cache.enabled():
            same = _same_interpreter(python)
            return package_cache.cached_facts(python, cache_dir, _probe_now, in_process=same)
    return _probe_now(python)


def _probe_now(python: str) -> dict[str, Any] | None:
    if _same_interpreter(python):
        return dict(_probe_module.facts())
    try:
        done = subprocess.run(
            [python, "-c", _PROBE_SOURCE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
        result = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def _same_interpreter(python: str) -> bool:
    """Is ``python`` this interpreter, in this environment? A virtual env's ``python`` is a
    link to the base interpreter's binary: the same file, but another ``sys.prefix`` and
    other packages, so its folder must be this one's too."""
    try:
        return os.path.samefile(python, sys.executable) and os.path.samefile(
            os.path.dirname(os.path.abspath(python)), os.path.dirname(sys.executable)
        )
    except OSError:
        return False


def installed_packages(python: str, cache_dir: Path | None = None) -> str:
    """``name==version`` lines for every distribution importable by ``python``, sorted
    case-insensitively, newline-terminated (pip-freeze form); "" if it cannot be read.
    ``cache_dir``: where earlier answers are kept (see ``_probe``)."""
    facts = _probe(python, cache_dir)
    if not facts:
        return ""
    lines = sorted(set(facts["packages"]), key=str.lower)
    return "".join(line + "\n" for line in lines)


def python_info(python: str | None, cache_dir: Path | None = None) -> dict[str, Any]:
    """version, implementation and executable of ``python`` (default: this interpreter)."""
    facts = _probe(python, cache_dir) if python else None
    if facts is None:
        if python and not _same_interpreter(python):
            return {"executable": python}
        import platform  # here: `record` imports this module before its command starts

        facts = {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        }
    return {key: facts[key] for key in ("version", "implementation", "executable")}


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo on Linux, sysctl on macOS."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                known = key.strip() in ("model name", "Model", "Hardware", "cpu model", "cpu")
                if known and value.strip():
                    return value.strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    import platform

    return platform.processor() or platform.machine()


def platform_info(python: str | None = None, cache_dir: Path | None = None) -> dict[str, Any]:
    """Plain data about the machine and the interpreter ``python`` (see module docstring);
    ``cache_dir`` as for ``installed_packages``."""
    from gitruns.capture.gpu import gpu_inventory
    from gitruns.format.who import host_name
    from gitruns.version import __version__

    logical, physical, memory_total = machine_counts()

    uname = _uname()
    return {
        "gitruns_version": __version__,
        "python": python_info(python, cache_dir),
        "os": {
            "system": uname[0],
            "release": uname[1],
            "version": uname[2],
            "machine": uname[3],
        },
        "hostname": host_name(),
        "cpu": {
            "model": cpu_model(),
            "logical_count": logical,
            "physical_count": physical,
        },
        "memory_total_mb": memory_total // _MIB,
        "gpus": gpu_inventory(),
    }


def _uname() -> tuple[str, str, str, str]:
    """System, release, version and machine as ``platform.uname()`` gives them: on POSIX
    ``os.uname()`` itself, read without importing ``platform`` (3 ms of CPU in every
    ``gitruns record``, whose package cache leaves it nothing else to do)."""
    if hasattr(os, "uname"):
        found = os.uname()
        if any(found):  # platform.uname's fallbacks are for an empty answer
            return found.sysname, found.release, found.version, found.machine
    import platform

    uname = platform.uname()
    return uname.system, uname.release, uname.version, uname.machine


def machine_counts() -> tuple[int | None, int | None, int]:
    """Logical CPUs, physical cores and total memory in bytes, as ``psutil.cpu_count()``,
    ``psutil.cpu_count(logical=False)`` and ``psutil.virtual_memory().total`` say; on Linux
    read from ``/sys`` and ``/proc`` as psutil reads them there, without importing it
    (15-20 ms of CPU in every ``gitruns record``)."""
    if sys.platform.startswith("linux"):
        try:
            return os.cpu_count(), _linux_cores(), _linux_memory_total()
        except (OSError, ValueError):
            pass
    import psutil

    return (
        psutil.cpu_count(logical=True),
        psutil.cpu_count(logical=False),
        int(psutil.virtual_memory().total),
    )


def _linux_cores() -> int | None:
    """psutil's ``cpu_count_cores`` on Linux: distinct sibling lists of the CPUs' topology,
    else the ``cpu cores`` of each ``physical id`` of ``/proc/cpuinfo``."""
    import glob

    root = "/sys/devices/system/cpu/cpu[0-9]*/topology/"
    siblings = set()
    for path in glob.glob(root + "core_cpus_list") or glob.glob(root + "thread_siblings_list"):
        with open(path, "rb") as handle:
            siblings.add(handle.read().strip())
    if siblings:
        return len(siblings)
    cores: dict[int, int] = {}
    current: dict[bytes, int] = {}
    with open("/proc/cpuinfo", "rb") as handle:
        for raw in handle:
            line = raw.strip().lower()
            if not line:
                if b"physical id" in current and b"cpu cores" in current:
                    cores[current[b"physical id"]] = current[b"cpu cores"]
                current = {}
            elif line.startswith((b"physical id", b"cpu cores")):
                key, value = line.split(b"\t:", 1)
                current[key] = int(value)
    return sum(cores.values()) or None


def _linux_memory_total() -> int:
    with open("/proc/meminfo", "rb") as handle:
        for line in handle:
            if line.startswith(b"MemTotal:"):
                return int(line.split()[1]) * 1024
    raise ValueError("no MemTotal in /proc/meminfo")


def environment_summary(info: Mapping[str, Any]) -> dict[str, Any]:
    """The few facts of ``env/platform.yaml`` that ``run.yaml`` ``environment`` keeps."""
    python = info.get("python", {})
    system = info.get("os", {})
    gpus = info.get("gpus", []) or []
    return {
        "python": python.get("version") if isinstance(python, dict) else python,
        "os": f"{system.get('system', '')} {system.get('release', '')}".strip()
        if isinstance(system, dict)
        else system,
        "gpus": [g.get("name") for g in gpus if isinstance(g, dict)],
    }
