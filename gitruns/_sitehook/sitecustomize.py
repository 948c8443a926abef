"""gitruns' start-up hook in a child of ``gitruns record`` (see ``__init__.py``).

At start-up it only undoes its own traces and installs an import watcher: the folder leaves
``sys.path``, ``PYTHONPATH`` is put back as it was (so the child's own children never see
the hook), and the next ``sitecustomize`` on the path runs as if this one did not exist.
When the program later imports ``argparse``, ``click.core`` or Hydra's callbacks module,
the watcher hands the fresh module to ``_gitruns_capture`` to be wrapped. Until then nothing
else is imported, so start-up costs a fraction of a millisecond.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: it costs milliseconds at start-up
if TYPE_CHECKING:
    from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
_CAPTURE_DIR_VAR = "GITRUNS_CAPTURE_DIR"
_PYTHONPATH_VAR = "GITRUNS_ORIGINAL_PYTHONPATH"  # absent: PYTHONPATH was unset
_AUTOLOG_VAR = "GITRUNS_AUTOLOG"  # "1": call gitruns.autolog() (record --autolog)
_NO_ARGS_VAR = "GITRUNS_NO_ARG_CAPTURE"  # "1": report no arguments (record --no-arg-capture)
# module name -> name of the patch function in _gitruns_capture
WATCHED = {
    "argparse": "patch_argparse",
    "click.core": "patch_click",
    "hydra._internal.callbacks": "patch_hydra",
}


def _same_dir(entry: str) -> bool:
    try:
        return os.path.abspath(entry or os.curdir) == _HERE
    except (TypeError, ValueError):
        return False


def _restore_environment() -> tuple[str | None, str | None, str | None]:
    """Put PYTHONPATH back and remove the hook's variables; return the capture folder and
    the autolog and no-argument-capture settings."""
    capture_dir = os.environ.pop(_CAPTURE_DIR_VAR, None)
    autolog = os.environ.pop(_AUTOLOG_VAR, None)
    no_args = os.environ.pop(_NO_ARGS_VAR, None)
    original = os.environ.pop(_PYTHONPATH_VAR, None)
    if original is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = original
    sys.path[:] = [entry for entry in sys.path if not _same_dir(entry)]
    return capture_dir, autolog, no_args


class _PatchingLoader:
    """Runs the real loader, then the patch; the module keeps its real loader."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)


class ImportWatcher:
    """A meta-path finder that answers only for the watched modules, and only by asking
    the finders after it, so every import resolves exactly as without it."""

    def __init__(self, capture_dir: str) -> None:
        self.capture_dir = capture_dir
        self.pid = os.getpid()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in WATCHED:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, name)
                return spec
        return None


_watcher: ImportWatcher | None = None


def _apply(name: str, module: Any) -> None:
    """Wrap a freshly imported module; a failure here never breaks the program's import."""
    watcher = _watcher
    if watcher is None or os.getpid() != watcher.pid:
        return  # a forked child: only the program itself reports
    try:
        capture = _capture_module()
        getattr(capture, WATCHED[name])(module, watcher.capture_dir)
    except Exception as exc:  # the hook must never change what the program does
        try:  # noqa: SIM105  (contextlib is not imported at start-up: it costs time)
            _capture_module().note_error(watcher.capture_dir, f"patching {name}", exc)
        except Exception:
            pass


def _capture_module() -> Any:
    loaded = sys.modules.get("_gitruns_capture")
    if loaded is not None:
        return loaded
    # importlib.machinery only names loaders already in memory (importlib.util would
    # import more); the module is cached in __pycache__ like any other.
    from importlib.machinery import ModuleSpec, SourceFileLoader

    path = os.path.join(_HERE, "_gitruns_capture.py")
    loader = SourceFileLoader("_gitruns_capture", path)
    module = type(sys)("_gitruns_capture")
    module.__file__ = path
    module.__loader__ = loader
    module.__spec__ = ModuleSpec("_gitruns_capture", loader, origin=path)
    sys.modules["_gitruns_capture"] = module
    loader.exec_module(module)
    return module


def _start_autolog(capture_dir: str) -> None:
    """``gitruns.autolog()`` of the child's own gitruns: it imports no framework, only
    watches for their import (a failure is reported, never raised)."""
    try:
        _capture_module().start_autolog(capture_dir)
    except Exception as exc:
        try:  # noqa: SIM105  (contextlib is not imported at start-up: it costs time)
            _capture_module().note_error(capture_dir, "autolog: starting", exc)
        except Exception:
            pass


def _chain_next_sitecustomize() -> None:
    """Import the ``sitecustomize`` this one shadowed, as ``site`` would have.

    The import system expects ``sys.modules["sitecustomize"]`` to exist once this module
    has run: the next one takes the name when there is one, else this one keeps it.
    """
    ours = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401  (the next one)
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    finally:
        if "sitecustomize" not in sys.modules and ours is not None:
            sys.modules["sitecustomize"] = ours


def _install() -> None:
    global _watcher
    capture_dir, autolog, no_args = _restore_environment()
    if capture_dir and autolog == "1":
        _start_autolog(capture_dir)
    if capture_dir and no_args != "1":
        _watcher = ImportWatcher(capture_dir)
        sys.meta_path.insert(0, _watcher)
        for name in WATCHED:
            if name in sys.modules:  # imported before us (by a .pth file): patch it now
                _apply(name, sys.modules[name])


_install()
_chain_next_sitecustomize()
