"""What an import statement names, for the tests that walk pocknet's imports (DVC deps, cycles)."""

from __future__ import annotations

import ast


def imported_names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """Dotted names an import statement may load, relative imports resolved against ``package``.

    ``from pkg import name`` gives ``pkg.name`` (``name`` may be a module); the caller keeps
    the longest prefix that is a module. ``from pkg import name`` also loads ``pkg`` itself.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    return [source, *(f"{source}.{alias.name}" for alias in node.names)]
