"""The layering the docs promise: ``pipeline`` is pure logic (no Kafka, no Redis, never
``agents``), and no two of the project's modules import each other in a circle.

Read from the source with :mod:`ast` (every import, also those inside functions), so a
lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "agents")
FORBIDDEN_IN_PIPELINE = ("aiokafka", "faust", "redis", "kafka", "fastapi", "uvicorn")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every absolute name ``path`` imports (``from a import b`` gives ``a.b`` when that
    is a module, ``a`` otherwise)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, base] if base else kept)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in modules else base


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(project module -> project modules it imports, module -> third-party roots)."""
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    external: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported in _imported(name, path, modules):
            if imported.split(".")[0] in PACKAGES:
                owner = _owner(imported, modules)
                if owner is not None and owner != name:
                    edges[name].add(owner)
            else:
                external[name].add(imported.split(".")[0])
    return edges, external


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    found.append(sorted(component))
    return found


def test_no_module_of_the_project_imports_itself_through_a_circle() -> None:
    edges, _ = _graph()
    assert len(edges) > 50, "the walk found the project's modules"
    assert "pipeline.windows.engine" in edges["agents.streams.aggregate"], "and their imports"
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_pipeline_is_pure_logic_that_never_imports_agents_or_io_clients() -> None:
    edges, external = _graph()
    upward = sorted((m, t) for m in edges if m.startswith("pipeline") for t in edges[m]
                    if t.startswith("agents"))  # fmt: skip
    assert upward == []
    forbidden = set(FORBIDDEN_IN_PIPELINE)
    io = {m: sorted(external[m] & forbidden) for m in external if m.startswith("pipeline")}
    assert {m: names for m, names in io.items() if names} == {}


AGENT_LAYERS = {"runtime": 0, "streams": 1, "api": 1, "bench": 2, "cli": 3}
"""``agents`` packages import only lower layers (streams and api never each other)."""


def _layer(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] != "agents" or len(parts) < 2 or parts[1] not in AGENT_LAYERS:
        return None
    return parts[1], AGENT_LAYERS[parts[1]]


def test_agents_packages_import_only_the_layers_below_them() -> None:
    edges, _ = _graph()
    assert {m.split(".")[1] for m in edges if _layer(m)} == set(AGENT_LAYERS)
    upward = []
    for module, imported in edges.items():
        for target in imported:
            here, there = _layer(module), _layer(target)
            if here is None or there is None or here[0] == there[0]:
                continue
            if there[1] >= here[1]:
                upward.append((module, target))
    assert sorted(upward) == []


def test_every_module_of_the_project_imports() -> None:
    """A moved module leaves no import behind (``from package import name`` of a name the
    package does not have fails only when that module is imported)."""
    import importlib

    failed = {}
    for name in sorted(_modules()):
        if name.endswith("__main__"):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    assert failed == {}
