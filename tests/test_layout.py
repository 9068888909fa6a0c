"""The shape of the house: no import circles, no module too long to read, a core without Flask."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "stations"
LONGEST = 500  # lines: what one reader holds at once


def _modules(package: Path) -> dict[str, Path]:
    out = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(package: Path = CORE) -> dict[str, set[str]]:
    """{module: modules of the package it imports}, counting imports inside functions too
    (a lazy import is still a dependency); a module's own parent packages are left out,
    since Python loads them for it anyway."""
    modules = _modules(package)
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        home = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    bits = home.split(".")[: len(home.split(".")) - node.level + 1]
                    base = ".".join(bits + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                if target in modules and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_relative_imports():
    edges = import_graph()
    assert "stations.storage" in edges["stations.riders.directory"]
    assert "stations.web" in edges["stations.cli"]  # imported inside a function


def test_no_module_of_the_core_imports_one_that_imports_it_back():
    found = cycles(import_graph())
    assert not found, "import circles: " + "; ".join(" ↔ ".join(group) for group in found)


def test_the_core_imports_neither_flask_nor_folium_outside_its_edges():
    edges_allowed = {"flask": ("stations.web", "stations.cli"), "folium": ("stations.maps", "stations.coverage.maps")}
    offenders = []
    for name, path in _modules(CORE).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for imported in names:
                top = imported.split(".")[0]
                if top in edges_allowed and not name.startswith(edges_allowed[top]):
                    offenders.append(f"{name} imports {imported}")
    assert not offenders, offenders


def test_no_module_is_longer_than_one_reader_holds():
    long = []
    for folder in ("stations", "scripts", "tests", "geodata"):
        for path in (ROOT / folder).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > LONGEST:
                long.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not long, f"modules over {LONGEST} lines: {long}"
