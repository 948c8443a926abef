"""The public API's names: ``__all__``, the lazy map and the imports for type checkers agree,
and each name loads."""

from __future__ import annotations

import ast
import inspect

import gitruns
from gitruns import errors


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse(inspect.getsource(gitruns))
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for child in node.body:
                assert isinstance(child, ast.ImportFrom) and child.module
                found.update({alias.name: child.module for alias in child.names})
    return found


def test_all_lists_errors_version_and_the_lazy_names() -> None:
    error_names = {
        n for n in dir(errors) if n.endswith(("Error", "Warning")) and n != "GitrunsError"
    }
    expected = {*gitruns._PUBLIC, "__version__", "GitrunsError", *error_names}
    assert set(gitruns.__all__) == expected
    assert gitruns.__all__ == sorted(gitruns.__all__)


def test_type_checking_imports_match_the_lazy_map() -> None:
    assert _type_checking_imports() == gitruns._PUBLIC


def test_every_public_name_loads() -> None:
    for name in gitruns.__all__:
        assert getattr(gitruns, name) is not None
