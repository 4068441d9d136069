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


def test_environment_builds_of_one_directory_take_turns(tmp_path: Path) -> None:
    """Two runs needing the same not-yet-built environment: MLflow has no lock; the wrap builds
    one at a time per directory (and other directories in parallel)."""
    import threading
    import time
    from types import SimpleNamespace

    from mlflow_repro.launchguard import one_builder_per_environment

    spans: list[tuple[str, float, float]] = []

    def create(**kwargs: object) -> str:
        began = time.monotonic()
        time.sleep(0.3)
        spans.append((str(kwargs["env_dir"]), began, time.monotonic()))
        return "activate"

    module = SimpleNamespace(_create_virtualenv=create)
    one_builder_per_environment(module)
    one_builder_per_environment(module)  # wrapped once only
    envs = [tmp_path / "envs" / "a", tmp_path / "envs" / "a", tmp_path / "envs" / "b"]
    threads = [
        threading.Thread(target=module._create_virtualenv, kwargs={"env_dir": e}) for e in envs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    same = sorted(s for s in spans if s[0].endswith("a"))
    assert len(same) == 2 and same[0][2] <= same[1][1]  # the second began after the first ended
    other = next(s for s in spans if s[0].endswith("b"))
    assert other[1] < same[-1][2]  # another directory did not wait for both


def test_replay_words_the_same_problem_without_claiming_no_run(
    project: Path, no_pyenv: None
) -> None:
    found = problem(str(project), "virtualenv", before_run=False)
    assert found is not None and "pyenv is not on PATH" in found
    assert "no run was created" not in found and "--env-manager uv" in found
