"""Wrapping a framework's function or method in place, and undoing it exactly."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

Undo = Callable[[], None]
_MARK = "__gitruns_autolog__"


def wrap(owner: Any, name: str, make_wrapper: Callable[[Any], Callable[..., Any]]) -> Undo:
    """Replace ``owner.name`` by ``make_wrapper(original)``; return what puts it back (an
    attribute that ``owner`` inherited is deleted again, not copied onto it)."""
    had_own = name in vars(owner)
    original = getattr(owner, name)
    if getattr(original, _MARK, False):
        return lambda: None  # wired already
    wrapper = functools.wraps(original)(make_wrapper(original))
    setattr(wrapper, _MARK, True)
    setattr(owner, name, wrapper)

    def undo() -> None:
        if getattr(owner, name, None) is not wrapper:
            return  # someone wrapped it after us: leave their wrapper alone
        if had_own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)

    return undo


def wrap_function(modules: list[Any], name: str, make: Callable[[Any], Callable[..., Any]]) -> Undo:
    """Wrap a function in every module that holds it under ``name`` (a package re-exports
    its ``train``; its own submodules call the copy they imported)."""
    original = getattr(modules[0], name)
    undos = [wrap(m, name, make) for m in modules if getattr(m, name, None) is original]

    def undo() -> None:
        for step in undos:
            step()

    return undo


def with_callback(
    function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], callback: Any, kind: type
) -> tuple[tuple[Any, ...], dict[str, Any], bool]:
    """``args, kwargs`` of a call to ``function`` with ``callback`` added to its
    ``callbacks`` argument, unless one of type ``kind`` is there already (then the last
    value is False: the caller's own callback records the call)."""
    bound = inspect.signature(function).bind(*args, **kwargs)
    given = bound.arguments.get("callbacks")
    callbacks = list(given) if given else []
    if any(isinstance(c, kind) for c in callbacks):
        return args, kwargs, False
    bound.arguments["callbacks"] = [*callbacks, callback]
    return bound.args, bound.kwargs, True
