"""The import graph: no cycle between modules, and the packages depend one way only.

Read statically with `ast`: every import counts wherever it stands (module level, inside a
function, under a condition), so a lazy import that closes a cycle is caught too. An import names
the module it loads (`from pkg import sub` -> `pkg.sub` where that is a module, else `pkg`); the
parent packages Python also runs on the way are left out, as every submodule has them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("g2p", "tuner", "tfopt", "benchmarks")
# tuner stands alone; g2p (the model) knows neither the lab nor the tuner; nothing that ships in
# the wheel (pyproject: g2p, tuner, tfopt) reaches into benchmarks/, which does not.
FORBIDDEN = {
    "tuner": {"g2p", "tfopt", "benchmarks"},
    "g2p": {"tfopt", "tuner", "benchmarks"},
    "tfopt": {"benchmarks"},
}

Graph = dict[str, dict[str, str]]  # module -> {module it imports: "file:line" of the first import}


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, tuple[Path, bool]]:
    """Every module of the packages: dotted name -> (file, whether it is a package's __init__)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imported_names(name: str, path: Path, is_package: bool) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of everything the module imports, relative imports made absolute."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                yield f"{module}.{alias.name}", node.lineno  # resolved to `module` if no such one


def import_graph(root: Path, packages: tuple[str, ...]) -> Graph:
    """Edges between the packages' modules; imports of anything else are left out."""
    known = modules(root, packages)
    graph: Graph = {name: {} for name in known}
    for name, (path, is_package) in known.items():
        for target, line in imported_names(name, path, is_package):
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()  # the longest prefix that is one of the modules
            found = ".".join(parts)
            if found and found != name:
                graph[name].setdefault(found, f"{path.relative_to(root)}:{line}")
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Each group of modules that import one another in a circle (Tarjan's strongly connected
    components of more than one module), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return sorted(found)


def forbidden_edges(graph: Graph, rules: dict[str, set[str]]) -> list[str]:
    """Imports from one package into a package it must not depend on, with where they stand."""
    return [
        f"{module} -> {target} ({where})"
        for module, targets in sorted(graph.items())
        for target, where in sorted(targets.items())
        if target.split(".")[0] in rules.get(module.split(".")[0], set())
    ]


def describe(graph: Graph, component: list[str]) -> str:
    edges = [f"  {a} -> {b} ({graph[a][b]})" for a in component for b in graph[a] if b in component]
    return "\n".join([" <-> ".join(component), *edges])


def test_no_module_imports_itself_back_through_others():
    graph = import_graph(ROOT, PACKAGES)
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(graph, c) for c in found)


def test_packages_depend_one_way_only():
    assert forbidden_edges(import_graph(ROOT, PACKAGES), FORBIDDEN) == []


def test_the_walk_sees_the_repo_s_known_edges():
    """The graph is not vacuous: edges the code is known to have are in it."""
    graph = import_graph(ROOT, PACKAGES)
    assert "g2p._modes" in graph["g2p._tf_decoder"]  # a relative import at module level
    assert "tfopt.worker" in graph["tfopt.environment"]  # an import inside a function
    assert "tuner" in graph["tfopt.matrix_checks"]  # `from tuner import Limits`: the package


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_closed_by_a_function_level_import_is_found(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "import json\n\n\ndef late():\n    from pkg.a import thing\n    return thing\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from ..a import thing\nfrom ..b import late\n",
    })  # fmt: skip
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.sub.c"] == {"pkg.a": "pkg/sub/c.py:1", "pkg.b": "pkg/sub/c.py:2"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert "pkg.b -> pkg.a (pkg/b.py:5)" in describe(graph, ["pkg.a", "pkg.b"])


def test_a_longer_cycle_through_a_package_init_is_found_and_a_chain_is_not(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "from .x import X\n",
        "pkg/x.py": "import pkg.y as y\n",
        "pkg/y.py": "from pkg import X\n",  # the package's __init__, which imports x
        "pkg/z.py": "from pkg import y\n",  # only into the cycle, not part of it
    })  # fmt: skip
    graph = import_graph(tmp_path, ("pkg",))
    assert cycles(graph) == [["pkg", "pkg.x", "pkg.y"]]
    write_package(tmp_path, {"pkg/y.py": "import os\n"})
    assert cycles(import_graph(tmp_path, ("pkg",))) == []


def test_a_forbidden_package_edge_is_named_with_its_line(tmp_path):
    write_package(tmp_path, {
        "low/__init__.py": "",
        "low/core.py": "def f():\n    import high.api\n",
        "high/__init__.py": "",
        "high/api.py": "from low import core\n",
    })  # fmt: skip
    graph = import_graph(tmp_path, ("low", "high"))
    assert forbidden_edges(graph, {"low": {"high"}}) == ["low.core -> high.api (low/core.py:2)"]
    assert forbidden_edges(graph, {"high": {"other"}}) == []
