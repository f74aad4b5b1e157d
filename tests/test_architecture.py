"""Layout guards: no import cycle inside driftcheck/, no module over 400 lines, nothing borrowed from outside.

They read the source, not the running program, so a cycle that only an unlucky import order would
trip, a `TYPE_CHECKING` import or one inside a function is still caught.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "driftcheck"
MAX_LINES = 400
OUTSIDE = b"../" + b"shared"  # spelled in two parts so that this file does not match itself


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
              known: set[str]) -> Iterator[str]:
    """The modules one import statement names: `from p import sub` is p.sub when that is a module, else p."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in known else base


def import_graph() -> dict[str, set[str]]:
    """Module -> the driftcheck modules it imports anywhere in its body."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {target for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                   for target in _imported(node, name, path.name == "__init__.py", known)}
        graph[name] = {t for t in targets if t in known and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """Each strongly connected component larger than one module, with one concrete cycle a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [(_path_through(graph, component), component) for component in components]


def _path_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle from the component's first module back to itself, for the failure message."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(came_from[chain[-1]])
                    return [*reversed(chain), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    next_frontier.append(nxt)
        frontier = next_frontier
    raise AssertionError(f"not a cycle: {sorted(component)}")


def _project_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in sorted(set(listed.decode().split("\0"))) if name]


def test_cycle_finder_names_the_cycle() -> None:
    graph = {"a": {"b", "d"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}}
    assert sorted(cycle for cycle, _ in cycles(graph)) == [["a", "b", "c", "a"], ["e", "f", "e"]]


def test_no_import_cycle_inside_driftcheck() -> None:
    found = []
    for cycle, component in cycles(import_graph()):
        also = f"  (entangled: {', '.join(sorted(component))})" if len(component) > len(cycle) - 1 else ""
        found.append(" -> ".join(cycle) + also)
    assert not found, "import cycles (module-level, TYPE_CHECKING and function-level imports count):\n" + \
        "\n".join(found)


def test_no_module_over_400_lines() -> None:
    too_long = {str(path.relative_to(ROOT)): n for path in _modules().values()
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split by concept): {too_long}"


def test_nothing_refers_outside_the_project() -> None:
    offenders = []
    for path in _project_files():
        if path.is_symlink():
            if not path.resolve().is_relative_to(ROOT):
                offenders.append(f"{path.relative_to(ROOT)} -> {path.readlink()}")
        elif path.is_file() and OUTSIDE in path.read_bytes():
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"the project must carry what it uses; these reach {OUTSIDE.decode()}: {offenders}"


def test_every_module_imports_first() -> None:
    """A module imported before any other (a test's first import, `python -m`) must not meet a package
    __init__ that imports it back half-initialized: the static graph above does not see package edges."""
    import importlib
    import sys

    def ours() -> list[str]:
        return [m for m in sys.modules if m == "driftcheck" or m.startswith("driftcheck.")]

    before = {m: sys.modules[m] for m in ours()}  # put back after: other tests hold these classes
    failed = []
    try:
        for name in sorted(_modules()):
            for loaded in ours():
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except ImportError as e:
                failed.append(f"{name}: {e}")
    finally:
        for loaded in ours():
            del sys.modules[loaded]
        sys.modules.update(before)
    assert not failed, "\n".join(failed)
