"""The floors of docs/ARCHITECTURE.md: no package of handprop imports back up.

Every import counts: at the top of a module, inside functions and under ``TYPE_CHECKING``.
A package is a subpackage (``train``, ``runs``, ...) or a top-level module (``errors``).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import handprop

ROOT = Path(handprop.__file__).parent


def _package(module: str) -> str:
    """``handprop.train.loop -> train``, ``handprop.errors -> errors``, ``handprop -> ""``."""
    return module.split(".")[1] if "." in module else ""


def _imports(path: Path) -> set[str]:
    """The handprop modules ``path`` imports (``from handprop import x`` names ``handprop.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "handprop":
                found.update(f"handprop.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("handprop.")}


def package_graph() -> dict[str, dict[str, list[str]]]:
    """``{package: {imported package: ["module -> imported module", ...]}}``."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        edges = graph.setdefault(_package(module), {})
        for target in _imports(path):
            package = _package(target)
            if package != _package(module) and (
                (ROOT / package).is_dir() or (ROOT / f"{package}.py").is_file()
            ):
                edges.setdefault(package, []).append(f"{module} -> {target}")
    return graph


def cycle(graph: dict[str, dict[str, list[str]]]) -> list[str]:
    """One cycle of packages ``[a, b, ..., a]``, or ``[]`` if there is none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for nxt in sorted(graph.get(node, {})):
            if found := visit(nxt, [*path, node]):
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        if found := visit(start, []):
            return found
    return []


def test_no_package_imports_back_up():
    graph = package_graph()
    found = cycle(graph)
    edges = [graph[a][b] for a, b in itertools.pairwise(found)]
    assert not found, f"import cycle {' -> '.join(found)}: {edges}"


def test_the_training_fold_knows_nothing_of_runs():
    graph = package_graph()
    assert "train" in graph["runs"]
    assert "runs" not in graph["train"], graph["train"].get("runs")


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": ["a.x -> b.y"]}, "b": {"c": []}, "c": {"a": []}}
    assert cycle(graph) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b": []}, "b": {}}) == []
