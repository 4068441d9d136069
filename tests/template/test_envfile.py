"""python_env.yaml is generated from uv.lock, pins the exact Python and follows the lock."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from repro_template.envfile import check_python_env, render_python_env, write_python_env
from repro_template.errors import LockError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", ".python-version", "python_env.yaml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def test_committed_python_env_is_up_to_date() -> None:
    check_python_env(ROOT)


def test_python_env_pins_exact_python_and_hashes_every_locked_dependency() -> None:
    env = yaml.safe_load((ROOT / "python_env.yaml").read_text())
    assert set(env) == {"python", "build_dependencies", "dependencies"}
    assert env["python"] == (ROOT / ".python-version").read_text().strip()
    assert env["python"].count(".") == 2
    marker, *requirements = env["build_dependencies"]
    assert marker.startswith("# pyproject.toml sha256:")
    names = [line.split("==")[0] for line in requirements]
    assert {"mlflow", "scikit-learn", "dvc", "numpy"} <= set(names)
    assert all(" --hash=sha256:" in line for line in requirements)
    assert "mlflow-repro" not in names


def test_virtualenv_installs_the_project_after_the_hashed_lock() -> None:
    # MLflow's virtualenv manager runs `pip install -r` for build_dependencies, then for
    # dependencies: the plugin (a directory, which pip cannot hash-check) comes second, alone,
    # so that the hash-checked call holds only hashed lines and the plugin's entry point exists.
    env = yaml.safe_load((ROOT / "python_env.yaml").read_text())
    assert env["dependencies"] == ["."]
    assert not any("--hash" not in line for line in env["build_dependencies"][1:])


def test_mlflow_accepts_the_generated_file() -> None:
    from mlflow.utils.environment import _PythonEnv

    env = _PythonEnv.from_yaml(str(ROOT / "python_env.yaml"))
    assert env.python == (ROOT / ".python-version").read_text().strip()


def test_a_changed_lock_makes_the_file_stale(project: Path) -> None:
    lock = project / "uv.lock"
    text = lock.read_text()
    locked = yaml.safe_load((project / "python_env.yaml").read_text())["build_dependencies"]
    digest = next(line for line in locked if line.startswith("pyyaml==")).split("sha256:")[1][:64]
    assert digest in text
    lock.write_text(text.replace(digest, "0" * 64))
    with pytest.raises(LockError, match=r"out of date with uv\.lock"):
        check_python_env(project)
    write_python_env(project)
    check_python_env(project)
    assert "0" * 64 in (project / "python_env.yaml").read_text()


def test_missing_file_is_reported(project: Path) -> None:
    (project / "python_env.yaml").unlink()
    with pytest.raises(LockError, match="is missing"):
        check_python_env(project)


def test_inexact_python_version_is_refused(project: Path) -> None:
    (project / ".python-version").write_text("3.11\n")
    with pytest.raises(LockError, match=r"'3.11', not an exact version"):
        render_python_env(project)


def test_missing_lock_is_refused(project: Path) -> None:
    (project / "uv.lock").unlink()
    with pytest.raises(LockError, match=r"uv\.lock not found"):
        render_python_env(project)


def test_a_changed_pyproject_makes_the_file_stale(project: Path) -> None:
    # uv-built environments install the project from pyproject.toml (entry points included),
    # so MLflow's env cache key must change with it.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a change\n")
    with pytest.raises(LockError, match="out of date"):
        check_python_env(project)
