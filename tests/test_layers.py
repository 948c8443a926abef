"""The package's layering rule, checked on the source: no import circles, no upward imports.

Every import counts, at module level or inside a function (a lazy import still ties the two
modules together); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
See docs/design.md, "Where things live".
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gitruns"

# Lowest first. A module may import modules of its own layer or of a lower one, never of a
# higher one. ``gitruns`` itself (the public facade) sits on top with the API.
LAYERS: list[tuple[str, ...]] = [
    ("gitruns.errors", "gitruns.version", "gitruns.locks"),
    ("gitruns.format",),
    ("gitruns.storage", "gitruns.compaction", "gitruns.runwrite"),
    ("gitruns.capture",),
    ("gitruns.recording",),
    ("gitruns.runs",),
    ("gitruns.query",),
    ("gitruns.sharing", "gitruns.importing"),
    ("gitruns.review",),
    ("gitruns.artifacts",),
    ("gitruns.display",),
    ("gitruns.recorder",),
    ("gitruns.ui",),
    ("gitruns.api", "gitruns"),
    ("gitruns.integrations",),
    ("gitruns.mlflow",),
    # the child-side hook of `record`: it may call the child's gitruns.autolog; the recorder
    # finds its folder by path
    ("gitruns._sitehook",),
    ("gitruns.cli", "gitruns.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The gitruns modules that ``path`` imports (``from gitruns.x import y`` counts as
    ``gitruns.x.y`` when that is a module, else ``gitruns.x``)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gitruns")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gitruns"):
            module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.add(full if full in modules else module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = module_name(path)
        # A package's __init__ importing its own modules (a lazy facade) is not a dependency
        # of those modules on each other.
        graph[name] = {m for m in imports_of(path, modules) if m != name}
    return graph


def test_no_upward_imports() -> None:
    wrong = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            # a package's __init__ is imported by every submodule on the way in: not a circle
            if module.startswith(target + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_storage_imports_pygit2() -> None:
    importers = [
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        if "pygit2" in {n.split(".")[0] for n in _all_imported_names(p)}
    ]
    assert importers == ["gitruns.storage"]


def test_display_never_imports_click() -> None:
    for path in (PACKAGE / "display").rglob("*.py"):
        assert "click" not in {n.split(".")[0] for n in _all_imported_names(path)}, path


def _all_imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names
