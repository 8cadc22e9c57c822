"""The layout's rule, read from the imports of every module: the platform uses only the shared layer of
`edge_agent`, the shared layer depends on nothing above it, and the agent runtime is imported by its
entry point alone (README, "Layout")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = (
    "edge_agent.contract",
    "edge_agent.features",
    "edge_agent.domain",
    "edge_agent.files",
    "edge_agent.uns",
)
SIMULATOR_USERS = ("mlops_assets/demo", "mlops_assets/cli/replay.py", "mlops_assets/ml/evaluation/")
AGENT_ENTRY = ("edge_agent/cli.py", "edge_agent/__main__.py")


def _imports(package: str) -> Iterator[tuple[str, str]]:
    """(module file relative to the root, imported module) for every import in `package`."""
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield relative, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield relative, node.module


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_platform_imports_only_the_shared_layer_of_edge_agent() -> None:
    wrong = [
        (where, module)
        for where, module in _imports("mlops_assets")
        if _within(module, "edge_agent")
        and not _within(module, *SHARED)
        and not (_within(module, "edge_agent.simulator") and where.startswith(SIMULATOR_USERS))
    ]
    assert wrong == []


def test_the_shared_layer_depends_on_nothing_above_it() -> None:
    wrong = [
        (where, module)
        for package in SHARED
        for where, module in _imports(package.replace(".", "/"))
        if _within(module, "edge_agent", "mlops_assets") and not _within(module, *SHARED)
    ]
    assert wrong == []


def test_the_simulator_uses_the_shared_layer_and_never_the_agent() -> None:
    wrong = [
        (where, module)
        for where, module in _imports("edge_agent/simulator")
        if _within(module, "edge_agent", "mlops_assets")
        and not _within(module, *SHARED, "edge_agent.simulator")
    ]
    assert wrong == []


def test_the_agent_runtime_is_imported_by_its_entry_point_alone() -> None:
    outside = [
        (where, module)
        for package in ("edge_agent", "mlops_assets")
        for where, module in _imports(package)
        if _within(module, "edge_agent.agent")
        and not where.startswith("edge_agent/agent/")
        and where not in AGENT_ENTRY
    ]
    assert outside == []
