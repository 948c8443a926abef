"""Provenance of a run started with the API in a plain ``python train.py`` (no ``record``).

``gitruns record`` captures the command, the environment and system metrics around the
child it runs. A run that the program starts itself gets the same from inside:

- ``run.yaml`` ``command``: the interpreter's own command line (``sys.orig_argv``), secrets
  redacted, the working directory, the entry point and ``sys.executable``;
- ``env/platform.yaml``, ``env/packages.txt``, ``env/variables.yaml``: platform and
  packages are captured once a process, on a background thread while the program goes on,
  and written into each run as soon as they are ready (at the latest when it ends), so a
  sweep of many runs in one process pays for them once; variables are read per run;
- (system metrics and resource totals, when asked for, are ``gitruns.recording.monitor``'s);
- the entry-point script in the code snapshot when git does not track it yet
  (:func:`entry_scripts`), so the code that ran is stored even before its first commit.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

from gitruns.capture.secrets import redact_env
from gitruns.format import layout
from gitruns.recording.active import ActiveRun

CAPTURE_JOIN_S = 30.0  # how long a run's end waits for the environment capture
_SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".zsh", ".R", ".jl")


def capture(run: ActiveRun) -> None:
    """Start capturing provenance into ``run`` (owned by this process)."""
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    run.set_fields(command=command_fields(argv))
    target = _EnvironmentTarget(run)
    _process_snapshot().deliver_to(target)
    run.add_end_hook(lambda: target.finish(CAPTURE_JOIN_S))


class _EnvironmentTarget:
    """One run waiting for the process's environment snapshot; written once, never after
    the run has ended."""

    def __init__(self, run: ActiveRun) -> None:
        self.run = run
        self._lock = threading.Lock()
        self._done = False

    def write(self, snapshot: _Snapshot) -> None:
        with self._lock:
            if self._done or not snapshot.available:
                return
            # In the journal, not as files of their own: see staging.inline_file_event
            self.run.stage_file(layout.PLATFORM_FILE, snapshot.platform_yaml)
            self.run.stage_file(layout.PACKAGES_FILE, snapshot.packages)
            self.run.stage_file(layout.VARIABLES_FILE, _variables_yaml())
            self.run.set_fields(environment=snapshot.summary)
            self._done = True

    def finish(self, timeout: float) -> None:
        snapshot = _process_snapshot()
        if snapshot.ready.wait(timeout):
            self.write(snapshot)
        with self._lock:
            self._done = True


class _Snapshot:
    """Platform facts and packages of this interpreter, captured once on a thread."""

    def __init__(self, *, capture: bool = True) -> None:
        self.ready = threading.Event()
        self.available = capture
        self.platform_yaml = b""
        self.packages = b""
        self.summary: dict[str, Any] = {}
        self._waiting: list[_EnvironmentTarget] = []
        self._lock = threading.Lock()
        # Imported here, in the caller's thread: two threads importing the same modules at
        # once can make Python's import lock raise a deadlock error in one of them.
        from gitruns.capture import environment
        from gitruns.capture.environment import environment_summary

        self._modules = (environment, environment_summary)
        if capture:
            threading.Thread(target=self._capture, name="gitruns-env", daemon=True).start()
        else:
            self.ready.set()

    def deliver_to(self, target: _EnvironmentTarget) -> None:
        with self._lock:
            if not self.ready.is_set():
                self._waiting.append(target)
                return
        target.write(self)

    def _capture(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # capture must never break a run, nor leave it waiting
            self.platform_yaml = f"error: '{type(exc).__name__}: {exc}'\n".encode()
        finally:
            with self._lock:
                self.ready.set()
                waiting, self._waiting = self._waiting, []
            for target in waiting:
                try:
                    target.write(self)
                except Exception:  # the run ended meanwhile, or its disk is full
                    continue

    def _read(self) -> None:
        environment, environment_summary = self._modules
        try:
            platform = environment.platform_info(sys.executable)
        except Exception as exc:
            platform = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            packages = environment.installed_packages(sys.executable)
        except Exception as exc:
            packages = f"# could not list packages: {type(exc).__name__}: {exc}\n"
        self.packages = packages.encode("utf-8")
        from gitruns.format import yamlio  # PyYAML: not on `record`'s way to its command

        self.summary = environment_summary(platform)
        self.platform_yaml = yamlio.dump(platform)


_last_variables: tuple[dict[Any, Any], bytes] | None = None


def _variables_yaml() -> bytes:
    """``env/variables.yaml`` for the environment as it is now (a program may change it
    between runs), redacted; the same environment is not redacted twice (compared as a
    dict: sorting it every run cost more than the rest of the capture). The comparison
    uses the environment's raw bytes where Python keeps them: ``dict(os.environ)`` decodes
    every variable in Python code, a run's largest share of the capture."""
    global _last_variables
    raw = getattr(os.environ, "_data", None)
    current = dict(raw) if isinstance(raw, dict) else dict(os.environ)
    cached = _last_variables
    if cached is not None and cached[0] == current:
        return cached[1]
    from gitruns.format import yamlio

    data = yamlio.dump(redact_env(dict(sorted(os.environ.items()))))
    _last_variables = (current, data)
    return data


_snapshot: _Snapshot | None = None
_snapshot_lock = threading.Lock()


def _process_snapshot() -> _Snapshot:
    global _snapshot
    with _snapshot_lock:
        if _snapshot is None:
            _snapshot = _Snapshot()
        return _snapshot


def _forget_after_fork() -> None:
    """A forked child keeps a snapshot its parent finished. One still being taken cannot
    finish here (the thread taking it is not copied, and may have held import locks that
    a new thread would wait on for ever): the child's runs then have no env/ files."""
    global _snapshot, _snapshot_lock
    _snapshot_lock = threading.Lock()
    if _snapshot is not None and not _snapshot.ready.is_set():
        _snapshot = _Snapshot(capture=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


_last_command: tuple[tuple[object, ...], dict[str, Any]] | None = None


def command_fields(argv: list[str]) -> dict[str, Any]:
    """``run.yaml`` ``command`` for this process: what ``record`` writes for its child.
    Made again only when something it is made of changed (a sweep's runs share it; the
    redaction and quoting of a long ``python -c`` program took tens of microseconds)."""
    global _last_command
    entry = entry_point()
    key = (tuple(argv), os.getcwd(), entry, sys.executable)
    cached = _last_command
    if cached is not None and cached[0] == key:
        return {**cached[1], "argv": list(cached[1]["argv"])}
    from gitruns.capture.secrets import redact_argv

    safe = redact_argv(argv)
    fields = {
        "argv": safe,
        "line": shlex.join(safe),
        "cwd": key[1],
        "entry_point": entry,
        "executable": sys.executable,
    }
    _last_command = (key, {**fields, "argv": list(safe)})
    return fields


def entry_point() -> str:
    """``train.py`` (as given), ``-m pkg.train``, ``-c``, or ``<interactive>``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", "") not in ("", "__main__"):
        return f"-m {spec.name.removesuffix('.__main__')}"
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 in ("-c", "-m"):
        return argv0
    if argv0 and getattr(main, "__file__", None):
        return argv0
    return "<interactive>"


def entry_scripts() -> list[Path]:
    """The file ``__main__`` runs from (none for ``-c``, a REPL or a notebook)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return [Path(path)] if isinstance(path, str) and os.path.isfile(path) else []


def scripts_of_command(command: list[str]) -> list[Path]:
    """Script files a recorded command runs: the program itself when it is a file
    (``./train.sh``), and the first script-like word after it (``python train.py``)."""
    found = [Path(command[0])] if command and os.sep in command[0] else []
    for word in command[1:]:
        if not word.startswith("-") and word.endswith(_SCRIPT_SUFFIXES):
            found.append(Path(word))
            break
    return [path for path in found if path.is_file()]
