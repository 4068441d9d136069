"""`mlflow run` under MLflow's virtualenv manager without pyenv: stopped before the run exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlflow_repro.launchguard import problem


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "MLproject").write_text("name: p\npython_env: python_env.yaml\n")
    (tmp_path / "python_env.yaml").write_text("python: 3.11.7\ndependencies: []\n")
    return tmp_path


@pytest.fixture
def no_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_the_default_manager_without_pyenv_is_named_with_the_fixes(
    project: Path, no_pyenv: None
) -> None:
    found = problem(str(project), None)
    assert found is not None
    assert "default environment manager" in found and "Python 3.11.7" in found
    assert "--env-manager uv" in found and "no run was created" in found
    assert "--env-manager virtualenv needs pyenv" in (problem(str(project), "virtualenv") or "")


def test_other_managers_projects_and_pyenv_on_path_pass(
    project: Path, no_pyenv: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert problem(str(project), "uv") is None
    assert problem(str(project), "local") is None
    assert problem("https://github.com/org/repo", None) is None  # fetched by MLflow: not ours
    (project / "MLproject").write_text("name: p\nconda_env: conda.yaml\n")
    assert problem(str(project), None) is None
    (project / "MLproject").write_text("name: p\npython_env: python_env.yaml\n")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "pyenv").write_text("#!/bin/sh\n")
    (tools / "pyenv").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    assert problem(str(project), None) is None
