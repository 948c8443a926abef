"""An import hook that calls back when a watched module has been imported (executed), so
autolog can wire a framework without importing it first."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


class _CallingBackLoader:
    """Runs the real loader, then the callback; the module keeps its real loader."""

    def __init__(self, loader: Any, on_import: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._on_import = on_import

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._on_import(module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)


class ImportWatcher:
    """A meta-path finder that answers only for watched modules, and only by asking the
    finders after it, so every import resolves exactly as it would without it."""

    def __init__(self, on_import: Callable[[ModuleType], None]) -> None:
        self.watched: set[str] = set()
        self._on_import = on_import
        self._busy = threading.local()

    def watch(self, name: str) -> None:
        self.watched.add(name)

    def unwatch(self, name: str) -> None:
        self.watched.discard(name)

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in self.watched or getattr(self._busy, "name", None) == name:
            return None
        self._busy.name = name  # the finders asked below must not come back to us
        try:
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec: ModuleSpec | None = find(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        loader: Any = _CallingBackLoader(spec.loader, self._on_import)
                        spec.loader = loader
                    return spec
            return None
        finally:
            self._busy.name = None
