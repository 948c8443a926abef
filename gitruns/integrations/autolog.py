"""``gitruns.autolog()``: every installed framework logs to gitruns with no code change.

Nothing is imported here: a framework the program already imported is wired at once, and
one it has not is wired the moment it is first imported (an import hook), so a program
that never imports xgboost pays nothing for it. Wiring wraps the framework's public entry
point in place (Lightning's and Transformers' ``Trainer.__init__``, Keras' ``Model.fit``,
``xgboost.train``, ``lightgbm.train``, Optuna's ``Study.optimize``) so that it gets the
gitruns logger or callback, unless the program gave it one (or Lightning ``logger=False``).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# framework name -> (the module whose import wires it, the integration that wires it)
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "lightning": ("lightning.pytorch", "gitruns.integrations.lightning"),
    "pytorch_lightning": ("pytorch_lightning", "gitruns.integrations.pytorch_lightning"),
    "transformers": ("transformers.trainer", "gitruns.integrations.transformers"),
    "keras": ("keras", "gitruns.integrations.keras"),
    "xgboost": ("xgboost", "gitruns.integrations.xgboost"),
    "lightgbm": ("lightgbm", "gitruns.integrations.lightgbm"),
    "optuna": ("optuna", "gitruns.integrations.optuna"),
}

_lock = threading.RLock()
_undo: dict[str, Callable[[], None]] = {}  # the frameworks wired now
_errors: dict[str, str] = {}  # framework -> why wiring it failed
_watcher: Any = None


def autolog(*, disable: bool = False, frameworks: Sequence[str] | None = None) -> None:
    """Log the training runs of every supported framework the program uses.

    Idempotent; ``disable=True`` undoes it (the frameworks' functions are put back).

    Args:
        disable: undo an earlier ``autolog()``.
        frameworks: only these (names of ``FRAMEWORKS``); default all.
    """
    from gitruns.errors import InvalidInputError

    chosen = list(FRAMEWORKS) if frameworks is None else list(frameworks)
    unknown = sorted(set(chosen) - set(FRAMEWORKS))
    if unknown:
        raise InvalidInputError(
            f"autolog has no integration for {', '.join(unknown)}",
            f"choose from {', '.join(FRAMEWORKS)}",
        )
    with _lock:
        if disable:
            _disable(chosen)
        else:
            _enable(chosen)


def wired() -> list[str]:
    """The frameworks wired now (a framework not imported yet is wired on import)."""
    with _lock:
        return sorted(_undo)


def errors() -> dict[str, str]:
    """Frameworks whose wiring failed, and why (autolog never fails the program)."""
    with _lock:
        return dict(_errors)


def _enable(chosen: list[str]) -> None:
    global _watcher
    from gitruns.integrations._import_hook import ImportWatcher

    if _watcher is None:
        _watcher = ImportWatcher(_on_import)
        sys.meta_path.insert(0, _watcher)
    for name in chosen:
        module_name = FRAMEWORKS[name][0]
        _watcher.watch(module_name)
        if module_name in sys.modules:  # imported before autolog(): wire it now
            _wire(name)


def _disable(chosen: list[str]) -> None:
    global _watcher
    for name in chosen:
        if _watcher is not None:
            _watcher.unwatch(FRAMEWORKS[name][0])
        undo = _undo.pop(name, None)
        if undo is not None:
            undo()
    if _watcher is not None and not _watcher.watched:
        sys.meta_path[:] = [f for f in sys.meta_path if f is not _watcher]
        _watcher = None


def _on_import(module: ModuleType) -> None:
    with _lock:
        for name, (module_name, _) in FRAMEWORKS.items():
            if module_name == module.__name__:
                _wire(name)


def _wire(name: str) -> None:
    if name in _undo:
        return
    try:
        integration = importlib.import_module(FRAMEWORKS[name][1])
        _undo[name] = integration.wire()
        _errors.pop(name, None)
    except Exception as exc:  # a framework version we cannot wire must not stop the program
        _errors[name] = f"{type(exc).__name__}: {exc}"
