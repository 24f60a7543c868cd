"""The house stays readable: no import cycle between pocknet modules, no module over 400 lines.

Only imports that run when a module is imported count (its top-level statements, ``try`` and
``if`` blocks included, ``if TYPE_CHECKING:`` excluded): an import inside a function runs when
the function does, after every module involved has finished loading, so it cannot deadlock
the import machinery and is how a heavy dependency (torch, the writers) stays off a light path.
"""

from __future__ import annotations

import ast
from pathlib import Path

from python_imports import imported_names

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "pocknet"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_statements(body: list[ast.stmt]):
    """Statements run at import: the body, descending into try/if/with but not into defs."""
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _load_time_statements(node.body)
            yield from _load_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _load_time_statements(block)
        elif isinstance(node, ast.With):
            yield from _load_time_statements(node.body)
        else:
            yield node


def _resolve(name: str) -> str | None:
    """The pocknet module an imported name lives in (``pkg.mod.func`` → ``pkg.mod``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def load_time_imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _load_time_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names = imported_names(node, package)
        targets.update(
            t for n in names if n.split(".")[0] == "pocknet" and (t := _resolve(n)) and t != module
        )
    return targets


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a closed path of nodes, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_on_hand_built_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": set(), "b": {"b2"}, "b2": {"b"}}) == ["b", "b2", "b"]


def test_load_time_imports_skip_functions_and_type_checking():
    imports = load_time_imports("pocknet.predict.seed_threshold")
    assert "pocknet.predict.pockets" in imports  # top level
    assert "pocknet.predict.predictor" not in imports  # TYPE_CHECKING and inside a function


def test_no_import_cycle_between_pocknet_modules():
    graph = {module: load_time_imports(module) for module in MODULES}
    assert sum(map(len, graph.values())) > 100  # the walk found the imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_over_400_lines():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"
