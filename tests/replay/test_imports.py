"""Replay meets capture only through the manifest (and names.py): no module of replay imports
the plugin (its process state, automatic seeding, publishing), the seed ledger or a collector."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

REPLAY = REPO_ROOT / "src" / "mlflow_repro" / "replay"
FORBIDDEN = (
    "mlflow_repro.plugin",  # the provider, its process state, publishing, automatic seeding
    "mlflow_repro.capture",
    "mlflow_repro.rng",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", sorted(REPLAY.glob("*.py")), ids=lambda p: p.name)
def test_replay_does_not_import_capture_or_the_plugin(module: Path) -> None:
    bad = {n for n in imported(module) if n.startswith(FORBIDDEN)}
    assert bad == set(), f"{module.name} imports {sorted(bad)}"


def test_the_check_sees_an_import_when_there_is_one(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from mlflow_repro.capture.seeds import collect_seeds\n")
    assert any(n.startswith(FORBIDDEN) for n in imported(sample))
