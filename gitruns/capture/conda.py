"""Conda (mamba, micromamba, pixi) environments: what a run's interpreter was installed by.

When the interpreter lives in a conda environment (``<prefix>/bin/python`` beside a
``<prefix>/conda-meta/`` folder), the environment is read from the records conda writes
there, one ``<name>-<version>-<build>.json`` per package, without starting ``conda`` (a
second or more): its name and prefix, every package with its version, build, channel and
platform, and which Python distributions pip installed on top. From that comes an
``environment.yml`` that ``conda env create -f`` accepts. docs/environment-capture.md
describes the files.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from gitruns.format import layout

_MAX_RECORD_BYTES = 64 * 1024 * 1024
# Patterns compiled on first use (re's cache), not on import: every `record` imports this
# module beside its command, few run in a conda environment.
_SUBDIR = r"^(noarch|(linux|osx|win|freebsd|zos|emscripten|wasi)-[a-z0-9_]+)$"
_DIST_INFO = r"(?:^|/)site-packages/([^/]+?)\.(?:dist-info|egg-info)(?:/|$)"
_NAME_SEPARATORS = r"[-_.]+"
# Anaconda's own channels are spelled "defaults" in environment files, as conda writes them.
_DEFAULTS = ("pkgs/main", "pkgs/r", "pkgs/msys2", "pkgs/free", "pkgs/pro")
_CHANNEL_HOSTS = ("https://conda.anaconda.org/", "http://conda.anaconda.org/")
_DEFAULTS_HOSTS = ("https://repo.anaconda.com/", "http://repo.anaconda.com/")
_MANAGERS = ("micromamba", "mamba", "conda", "pixi")


# Plain classes: `record` loads this module beside its command, and `import dataclasses`
# loads `inspect` (`ast`, `dis`, `tokenize`), about 8 ms (recorder.RecordOptions); a
# NamedTuple compiles its annotations (recording.git_probe.ProbedRepo).
class CondaPackage:
    """One package of a conda environment."""

    __slots__ = ("build", "channel", "name", "subdir", "version")

    def __init__(
        self, name: str, version: str, build: str, channel: str | None, subdir: str | None
    ) -> None:
        self.name = name
        self.version = version
        self.build = build
        self.channel = channel
        self.subdir = subdir

    def spec(self) -> str:
        """``numpy=1.26.4=py311h64a7726_0``, the pin ``conda env export`` writes."""
        return f"{self.name}={self.version}={self.build}" if self.build else self.spec_loose()

    def spec_loose(self) -> str:
        return f"{self.name}={self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "channel": self.channel,
            "subdir": self.subdir,
        }


class CondaEnvironment:
    """A conda environment as its metadata describes it."""

    __slots__ = ("manager", "name", "packages", "pip", "prefix", "provided")

    def __init__(
        self,
        prefix: str,
        name: str | None,
        manager: str | None,
        packages: list[CondaPackage],
        provided: set[str] | None = None,  # Python dists conda installed (PEP 503)
        pip: list[str] | None = None,  # name==version that pip put on top
    ) -> None:
        self.prefix = prefix
        self.name = name
        self.manager = manager
        self.packages = packages
        self.provided = set() if provided is None else provided
        self.pip = [] if pip is None else pip

    @property
    def channels(self) -> list[str]:
        """Channels of the packages, the one most packages came from first."""
        counts = Counter(p.channel for p in self.packages if p.channel)
        return [c for c, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "manager": self.manager,
            "channels": self.channels,
            "packages": [p.to_dict() for p in self.packages],
            "pip": list(self.pip),
        }


def find_prefix(python: str) -> Path | None:
    """The conda environment ``python`` belongs to, or None.

    ``<prefix>/bin/python`` (``<prefix>/python.exe`` on Windows) next to
    ``<prefix>/conda-meta/``. Symbolic links are not followed: a virtual environment made
    from a conda Python is a virtual environment (its packages are its own).
    """
    path = Path(os.path.abspath(python))
    for candidate in (path.parent.parent, path.parent):
        if (candidate / "conda-meta").is_dir() and not (candidate / "pyvenv.cfg").exists():
            return candidate
    return None


def environment_name(prefix: Path, environ: dict[str, str] | None = None) -> str | None:
    """``myenv`` for ``.../envs/myenv``, ``base`` for the installation's root, the active
    environment's name when it is this prefix; None for an environment made with
    ``--prefix`` elsewhere (it has only a path)."""
    env = os.environ if environ is None else environ
    active, active_name = env.get("CONDA_PREFIX"), env.get("CONDA_DEFAULT_ENV", "")
    if active and _same_path(active, prefix) and active_name and "/" not in active_name:
        return active_name
    if prefix.parent.name == "envs":
        return prefix.name
    if (prefix / "condabin").is_dir() or (prefix / "envs").is_dir():
        return "base"
    return None


def _same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def read_environment(prefix: Path, pip_packages: str = "") -> CondaEnvironment:
    """Read ``prefix/conda-meta``; ``pip_packages`` is the run's pip-freeze list, from which
    the distributions conda did not install become the ``pip`` part."""
    packages: list[CondaPackage] = []
    provided: set[str] = set()
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        record = _load_record(path)
        if record is None:
            continue
        package = _package(record)
        if package is None:
            continue
        packages.append(package)
        provided |= _dists_of(record, package.name)
    packages.sort(key=lambda p: p.name)
    environment = CondaEnvironment(
        prefix=str(prefix),
        name=environment_name(prefix),
        manager=_manager(prefix),
        packages=packages,
        provided=provided,
    )
    environment.pip = [
        line for line in _freeze_lines(pip_packages) if normalise(_dist_name(line)) not in provided
    ]
    return environment


def _load_record(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > _MAX_RECORD_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a record being written, or damaged: conda itself would skip it
    return data if isinstance(data, dict) else None


def _package(record: dict[str, Any]) -> CondaPackage | None:
    name, version = record.get("name"), record.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name:
        return None
    build = record.get("build") or record.get("build_string") or ""
    if not isinstance(build, str) or build.startswith("pypi_"):
        return None  # conda's view of a pip-installed package: it is in the pip list
    subdir = record.get("subdir") if isinstance(record.get("subdir"), str) else None
    channel = channel_name(record.get("channel"), record.get("url"))
    return CondaPackage(name, version, build, channel, subdir or _subdir_of(record.get("url")))


def channel_name(channel: Any, url: Any = None) -> str | None:
    """The channel as environment files name it: ``conda-forge`` for
    ``https://conda.anaconda.org/conda-forge/linux-64``, ``defaults`` for Anaconda's
    ``pkgs/main``, a custom channel's URL without its platform folder."""
    text = channel if isinstance(channel, str) and channel.strip() else None
    if text is None and isinstance(url, str) and "/" in url:
        text = url.rsplit("/", 1)[0]  # the package file's folder: channel/subdir
    if text is None or text in ("<unknown>", "pypi", "@"):
        return None
    text = text.strip().rstrip("/")
    head, _, last = text.rpartition("/")
    if head and re.match(_SUBDIR, last):
        text = head
    for host in _CHANNEL_HOSTS:
        if text.startswith(host):
            text = text[len(host) :]
    for host in _DEFAULTS_HOSTS:
        if text.startswith(host):
            text = text[len(host) :]
    return "defaults" if text in _DEFAULTS else text


def _subdir_of(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    parts = url.rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 and re.match(_SUBDIR, parts[-2]) else None


def _dists_of(record: dict[str, Any], package_name: str) -> set[str]:
    """The Python distributions a conda package installed (from its ``*.dist-info`` and
    ``*.egg-info`` files); its own name when its file list is missing."""
    files = record.get("files")
    if not isinstance(files, list):
        return {normalise(package_name)}
    found = set()
    for item in files:
        if isinstance(item, str) and "-info" in item:
            match = re.search(_DIST_INFO, item)
            if match:
                found.add(normalise(match.group(1).split("-", 1)[0]))
    return found


def _manager(prefix: Path) -> str | None:
    """conda, mamba, micromamba or pixi: the tool in the environment's first history
    entry (``# cmd: /opt/conda/bin/conda create -n x``), when there is one."""
    try:
        with open(prefix / "conda-meta" / "history", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("# cmd:"):
                    words = line[len("# cmd:") :].split()
                    program = os.path.basename(words[0]).lower() if words else ""
                    program = program.removesuffix(".exe").removesuffix("-script.py")
                    return next((m for m in _MANAGERS if program == m), None)
    except OSError:
        return None
    return None


def normalise(name: str) -> str:
    """PEP 503: ``Foo_Bar.baz`` and ``foo-bar-baz`` are the same distribution."""
    return re.sub(_NAME_SEPARATORS, "-", name.strip()).lower()


def _freeze_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] not in "#-"]


def _dist_name(line: str) -> str:
    for separator in ("===", "==", " @ "):
        if separator in line:
            return line.split(separator, 1)[0]
    return line


def environment_yml(environment: CondaEnvironment) -> str:
    """An environment file that ``conda env create -f`` accepts: the environment's name,
    its channels, every package pinned to version and build, and a ``pip:`` part for the
    distributions pip installed. The prefix is left out, so that it can be created on
    another machine (``-n``/``-p`` choose where)."""
    import yaml

    dependencies: list[Any] = [p.spec() for p in environment.packages]
    if environment.pip:
        if not any(p.name == "pip" for p in environment.packages):
            dependencies.append("pip")  # conda needs pip to install the pip part
        dependencies.append({"pip": list(environment.pip)})
    document: dict[str, Any] = {}
    name = environment.name or Path(environment.prefix).name
    document["name"] = name
    document["channels"] = environment.channels or ["defaults"]
    document["dependencies"] = dependencies
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)
    return text


def capture_files(python: str, pip_packages: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """``env/conda.yaml`` and ``env/environment.yml`` for a run whose interpreter is
    ``python``, and ``{name, prefix}`` for run.yaml; both empty outside conda."""
    from gitruns.format import yamlio

    prefix = find_prefix(python)
    if prefix is None:
        return {}, {}
    environment = read_environment(prefix, pip_packages)
    files = {
        layout.CONDA_FILE: yamlio.dump(environment.to_dict()),
        layout.CONDA_ENVIRONMENT_FILE: environment_yml(environment).encode("utf-8"),
    }
    return files, {"name": environment.name, "prefix": environment.prefix}
