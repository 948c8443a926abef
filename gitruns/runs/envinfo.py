"""The environment a run recorded (``env/platform.yaml``, ``env/packages.txt``), summarised.

``gitruns record`` writes these files; runs made through the Python API may have none.
Both are untrusted input read back from git, so every field is optional and checked for
its type; anything unexpected is simply left out of the summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gitruns.errors import InvalidRunError
from gitruns.format import layout, yamlio
from gitruns.runs.model import Run

_NAME_SEPARATORS = re.compile(r"[-_.]+")


@dataclass
class EnvSummary:
    python: str | None = None
    os: str | None = None
    cpu: str | None = None
    memory: str | None = None
    gpus: list[str] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)  # normalised name -> version
    has_packages_file: bool = False
    conda: str | None = None  # "name (prefix)" of the conda environment
    conda_packages: dict[str, str] = field(default_factory=dict)  # name -> "version=build"
    has_conda_file: bool = False

    def is_empty(self) -> bool:
        return not (
            self.python or self.os or self.cpu or self.gpus or self.has_packages_file or self.conda
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "os": self.os,
            "cpu": self.cpu,
            "memory": self.memory,
            "gpus": list(self.gpus),
            "packages": len(self.packages) if self.has_packages_file else None,
            "conda": self.conda,
            "conda_packages": len(self.conda_packages) if self.has_conda_file else None,
        }


def read_env(run: Run) -> EnvSummary:
    """What the run recorded about its environment (empty when it recorded nothing)."""
    platform = _platform(run)
    summary = EnvSummary(
        python=_python(platform),
        os=_os(platform),
        cpu=_cpu(platform),
        memory=_memory(platform),
        gpus=_gpus(platform),
    )
    raw = run.file(layout.PACKAGES_FILE)
    if raw is not None:
        summary.has_packages_file = True
        summary.packages = parse_packages(raw.decode("utf-8", errors="replace"))
    _read_conda(run, summary, platform.get("conda"))
    return summary


def _read_conda(run: Run, summary: EnvSummary, recorded: Any) -> None:
    """The conda environment: run.yaml's ``environment.conda`` and ``env/conda.yaml``."""
    if isinstance(recorded, dict):
        name, prefix = _text(recorded.get("name")), _text(recorded.get("prefix"))
        summary.conda = f"{name} ({prefix})" if name and prefix else (name or prefix)
    try:
        raw = run.file(layout.CONDA_FILE)
        data = yamlio.load(raw, f"run {run.id} {layout.CONDA_FILE}") if raw else None
    except InvalidRunError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("packages"), list):
        return
    summary.has_conda_file = True
    for package in data["packages"]:
        if isinstance(package, dict) and _text(package.get("name")):
            version, build = _text(package.get("version")) or "", _text(package.get("build"))
            pin = f"{version}={build}" if build else version
            summary.conda_packages[str(package["name"])] = pin


def _platform(run: Run) -> dict[str, Any]:
    try:
        raw = run.file(layout.PLATFORM_FILE)
        data = yamlio.load(raw, f"run {run.id} {layout.PLATFORM_FILE}") if raw else None
    except InvalidRunError:
        data = None
    if not isinstance(data, dict):
        data = {}
    environment = run.document.get("environment")
    if isinstance(environment, dict):  # fields a recorder put into run.yaml
        data = {**environment, **data}
    return data


def parse_packages(text: str) -> dict[str, str]:
    """pip-freeze lines (``name==1.2``, ``name @ url``) as ``{normalised name: version}``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        for separator in ("===", "==", " @ "):
            if separator in line:
                name, version = line.split(separator, 1)
                break
        else:
            name, version = line, ""
        found[normalise_name(name)] = version.strip()
    return found


def normalise_name(name: str) -> str:
    """PEP 503: ``Foo_Bar.baz`` and ``foo-bar-baz`` are the same package."""
    return _NAME_SEPARATORS.sub("-", name.strip()).lower()


def _text(value: Any) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _pick(data: dict[str, Any], *paths: str) -> str | None:
    for path in paths:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if _text(node):
            return _text(node)
    return None


def _python(data: dict[str, Any]) -> str | None:
    return _pick(data, "python.version", "python_version", "python")


def _os(data: dict[str, Any]) -> str | None:
    text = _pick(data, "os.pretty", "os.description", "os.platform", "platform")
    if text:
        return text
    parts = [_pick(data, p) for p in ("os.system", "os.release", "os.machine")]
    joined = " ".join(dict.fromkeys(p for p in parts if p))
    return joined or _pick(data, "os", "system")


def _cpu(data: dict[str, Any]) -> str | None:
    model = _pick(data, "cpu.model", "cpu.brand", "cpu_model", "cpu", "processor")
    count = _pick(data, "cpu.logical_count", "cpu.count", "cpu_count")
    if model and count:
        return f"{model} ({count} cores)"
    return model or (f"{count} cores" if count else None)


def _memory(data: dict[str, Any]) -> str | None:
    total = _pick(data, "memory_total_mb")
    try:
        return f"{float(total) / 1024:.1f} GiB" if total else None
    except ValueError:
        return None


def _gpus(data: dict[str, Any]) -> list[str]:
    gpus = data.get("gpus")
    if not isinstance(gpus, list):
        gpu = data.get("gpu")
        gpus = gpu.get("devices") if isinstance(gpu, dict) else None
    if not isinstance(gpus, list):
        return []
    names = []
    for gpu in gpus:
        if isinstance(gpu, dict):
            name = _pick(gpu, "name", "model")
            driver = _pick(gpu, "driver_version")
            cuda = _pick(gpu, "cuda_version")
            extra = ", ".join(
                x for x in (driver and f"driver {driver}", cuda and f"CUDA {cuda}") if x
            )
            if name:
                names.append(f"{name} ({extra})" if extra else name)
        elif _text(gpu):
            names.append(str(gpu))
    return names


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key for versions that orders 1.10 after 1.9 and 2.0rc1 before 2.0."""
    public, _, local = version.lower().partition("+")
    key: list[tuple[int, int | str]] = []
    for part in re.findall(r"\d+|[a-z]+", public):
        key.append((1, int(part)) if part.isdigit() else (0, part))
    key.append((0, "~"))  # a bare release sorts after its pre-releases (a, b, rc < "~")
    if local:  # 1.0+cpu: the same release, a local build of it
        key.append((2, local))
    return tuple(key)
