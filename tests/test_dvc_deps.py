"""Each DVC stage depends on the code it runs: every module its Kedro pipeline imports,
transitively (function-level imports included), lies under one of the stage's deps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from python_imports import imported_names

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
# What `kedro run` runs besides the pipeline: the project settings (numerics pinned there). The
# catalog's dataset types (catalog_datasets.py, a dep of every stage) load and save through the
# modules the nodes import themselves.
ALWAYS = ("pocknet.settings",)


def _module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(imported_names(node, package))
    return {n for n in names if n.split(".")[0] == "pocknet"}


def closure(*roots: str) -> set[Path]:
    """Files of every pocknet module reachable from ``roots``, parents' ``__init__`` included."""
    seen: set[str] = set()
    todo = list(roots)
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b.c runs a and a.b
        path = _module_file(name)
        if path is None:
            continue
        files.add(path)
        todo.extend(_imports(path, name))
    return files


def _covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(REPO).as_posix()
    return any(relative == dep or relative.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_the_code_it_imports(stage):
    spec = STAGES[stage]
    pipeline = spec["cmd"].split("--pipelines")[1].split()[0]
    deps = [d for d in spec["deps"] if isinstance(d, str)]
    missing = sorted(
        p.relative_to(REPO).as_posix()
        for p in closure(f"pocknet.pipelines.{pipeline}", *ALWAYS)
        if not _covered(p, deps)
    )
    assert not missing, f"stage {stage} runs code it does not depend on: {missing}"
    used = closure(f"pocknet.pipelines.{pipeline}", *ALWAYS, "pocknet.catalog_datasets")
    unused = [d for d in deps if d.startswith("src/pocknet") and not d.endswith(".csv")
              and not any(_covered(p, [d]) for p in used)]  # fmt: skip
    assert not unused, f"stage {stage} depends on code it never imports (needless re-runs): {unused}"
    assert {"conf/base/catalog.yml", "src/pocknet/catalog_datasets.py"} <= set(deps)


def test_closure_follows_function_level_imports():
    files = {p.relative_to(SRC).as_posix() for p in closure("pocknet.catalog_datasets")}
    assert "pocknet/predict/inference.py" in files  # imported inside PredictionsFolderDataset.save
    assert "pocknet/__init__.py" in files and "pocknet/predict/__init__.py" in files
