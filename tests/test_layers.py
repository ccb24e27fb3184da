"""The import graph of symjac and its back ends: no cycle, and data flows one way.

Read from the source with :mod:`ast` (nothing is imported): every ``import`` of a symjac
module, at any depth of a function, counts; imports under ``if TYPE_CHECKING:`` do not
(they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: what each layer may import (besides itself and the standard library, NumPy, llvmlite)
ALLOWED = {
    "symjac.ir": set(),
    "symjac.runtime": set(),
    "symjac.passes": {"symjac.ir"},
    "symjac.sparsity": {"symjac.ir"},
    "symjac.frontend": {"symjac.ir", "symjac.passes"},
    "symjac.codegen": {"symjac.ir", "symjac.passes", "symjac.runtime"},
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "codegen":
        parts = ["symjac", "codegen", *parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, module: str) -> set[str]:
    """The symjac modules ``path`` imports (a package's name for ``from package import name``
    when ``name`` is not itself a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "symjac")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if base.split(".")[0] == "symjac":
                for alias in node.names:
                    found.add(f"{base}.{alias.name}")
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _graph() -> dict[str, set[str]]:
    files = [*ROOT.joinpath("symjac").rglob("*.py"), *ROOT.joinpath("codegen").rglob("*.py")]
    modules = {_module(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path, name) if m in modules and m != name}
    return graph


GRAPH = _graph()


def _layer(module: str) -> str | None:
    return next(
        (layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), None
    )


def test_the_import_graph_has_no_cycle():
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(GRAPH[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer):
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) != layer
        and not any(target == ok or target.startswith(ok + ".") for ok in ALLOWED[layer])
    }
    assert not wrong, sorted(wrong)


def test_codegen_never_imports_sympy():
    for path in ROOT.joinpath("codegen").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
        }
        assert "sympy" not in names, path


def test_the_walk_sees_the_imports():
    """The graph is not vacuous: known edges are there."""
    assert "symjac.ir.ops" in GRAPH["symjac.ir.graph"]
    assert "symjac.ir.tape" in GRAPH["symjac.codegen.llvm.lower"]


def test_every_package_is_installed_by_pyproject() -> None:
    """A package missing from pyproject's list works in an editable install (the tests) and
    is absent from a real one (the README's quickstart): compare the list with the tree."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in ((ROOT / "symjac", "symjac"), (ROOT / "codegen", "symjac.codegen")):
        for init in top.rglob("__init__.py"):
            parts = init.parent.relative_to(top).parts
            found.add(".".join([name, *parts]))
    assert listed == found, (sorted(found - listed), sorted(listed - found))
