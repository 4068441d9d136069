"""How the re-run is started comes from the manifest's launch record (entry point, parameters,
env manager, backend); a schema-1 manifest falls back to the run's declared params, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.errors import UsageError
from mlflow_repro.manifest import Code, Environment, Launch, Manifest
from mlflow_repro.replay.launch import plan_launch

MLPROJECT = """\
name: p
entry_points:
  main:
    parameters:
      conf_file: {type: string, default: a.yaml}
      alpha: {type: float, default: 0.1}
    command: "python -c pass"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    return tmp_path


def project_run(**launch: object) -> Manifest:
    base: dict[str, object] = {"launcher": "mlflow run", "entry_point": "main", "workdir": "."}
    return Manifest(launch=Launch(**{**base, **launch}))  # type: ignore[arg-type]


def test_parameters_env_manager_and_backend_come_from_the_manifest(workspace: Path) -> None:
    manifest = project_run(parameters={"conf_file": "b.yaml"}, env_manager="uv", backend="local")
    logged = {"conf_file": "WRONG", "model.n": "3"}  # what the job logged must not leak in
    plan = plan_launch(manifest, workspace, logged, "r")
    assert plan.entry_point == "main" and plan.parameters == {"conf_file": "b.yaml"}
    assert (plan.env_manager, plan.backend, plan.notes) == ("uv", "local", [])


def test_the_caller_may_choose_the_env_manager_and_backend(workspace: Path) -> None:
    manifest = project_run(parameters={}, env_manager="uv", backend="local")
    plan = plan_launch(manifest, workspace, {}, "r", env_manager="local", backend="kubernetes")
    assert (plan.env_manager, plan.backend) == ("local", "kubernetes")


def test_a_schema_1_manifest_uses_the_declared_params_and_says_so(workspace: Path) -> None:
    manifest = project_run(parameters=None, env_manager="local")
    logged = {"conf_file": "c.yaml", "alpha": "0.5", "model.n": "3"}
    plan = plan_launch(manifest, workspace, logged, "r")
    assert plan.parameters == {"conf_file": "c.yaml", "alpha": "0.5"}
    assert any("did not record the parameters" in note for note in plan.notes)


def test_a_plain_script_gets_uv_from_its_lock_or_this_interpreter(workspace: Path) -> None:
    locked = Manifest(
        code=Code(repo_root=str(workspace)),
        launch=Launch(argv=["t.py"], workdir="."),
        environment=Environment(lock_source="uv.lock"),
    )
    assert plan_launch(locked, workspace, {}, "r").env_manager == "uv"
    unlocked = Manifest(
        code=Code(repo_root=str(workspace)), launch=Launch(argv=["t.py"], workdir=".")
    )
    plan = plan_launch(unlocked, workspace, {}, "r")
    assert (plan.entry_point, plan.env_manager, plan.backend) == (None, "local", "local")


def test_a_plain_script_on_another_backend_is_a_usage_error(workspace: Path) -> None:
    manifest = Manifest(
        code=Code(repo_root=str(workspace)), launch=Launch(argv=["t.py"], workdir=".")
    )
    with pytest.raises(UsageError, match="local backend") as info:
        plan_launch(manifest, workspace, {}, "r", backend="kubernetes")
    assert isinstance(info.value, ValueError) and info.value.value == "kubernetes"
