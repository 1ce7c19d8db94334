"""The package layout is the architecture: imports go one way, pulumi stays in the resource layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "flux_monitoring"
# Lowest first: a module may import its own layer and the layers before it (flux_monitoring/__init__.py).
LAYERS = ("contract", "flux", "config", "signals", "manifests", "resources")
PULUMI_LAYER = "resources"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth of the file (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def _internal_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_every_module_belongs_to_a_layer():
    stray = [m for m in _modules() if m != PACKAGE and _layer(m) not in LAYERS]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


def test_no_module_imports_a_later_layer():
    against = []
    for module, imported in _internal_graph().items():
        if module == PACKAGE:
            continue
        own = LAYERS.index(_layer(module))
        against += [
            f"{module} imports {target}" for target in imported if _layer(target) and LAYERS.index(_layer(target)) > own
        ]
    assert not against, "imports against the layer order:\n" + "\n".join(sorted(against))


def test_only_the_resource_layer_imports_pulumi():
    offenders = [
        f"{module} imports {target}"
        for module, path in _modules().items()
        if _layer(module) != PULUMI_LAYER
        for target in _imports(path)
        if target.split(".")[0].startswith("pulumi")
    ]
    assert not offenders, "\n".join(offenders)


def test_no_import_circle():
    graph = _internal_graph()
    # Package __init__ modules that import nothing cannot close a circle; every edge is module to module.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)):
                return circle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            pytest.fail("import circle: " + " -> ".join(circle))


def test_the_offline_render_runs_without_pulumi(tmp_path):
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['render.py', '--stack', 'staging', '--out', {str(tmp_path)!r}]\n"
        "try:\n    runpy.run_path('render.py', run_name='__main__')\nexcept SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    assert any(tmp_path.iterdir())
