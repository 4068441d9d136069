"""The launch record of a run `mlflow run` started: the parameters as launched are the ones the
MLproject declares for the entry point (the job may log params of its own before capture)."""

from __future__ import annotations

from pathlib import Path

from mlflow_repro.capture.launch import declared_parameters, project_launch

MLPROJECT = """\
name: demo
entry_points:
  main:
    parameters:
      conf_file: {type: str, default: confs/training.yaml}
      alpha: float
    command: "python train.py {conf_file} {alpha}"
  other:
    command: "python other.py"
"""

TAGS = {"mlflow.project.entryPoint": "main", "mlflow.source.type": "PROJECT"}
# What MLflow's parent logged at launch, plus a param the job logged before capture read them.
PARAMS = {"conf_file": "confs/a.yaml", "alpha": "0.5", "model.max_iter": "200"}


def test_only_the_declared_parameters_count(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    launch = project_launch(TAGS, PARAMS, [tmp_path])
    assert launch.launcher == "mlflow run" and launch.entry_point == "main"
    assert launch.parameters == {"conf_file": "confs/a.yaml", "alpha": "0.5"}
    assert launch.run_index == 0


def test_the_mlproject_is_found_in_the_next_directory_and_by_any_case(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "mlproject").write_text(MLPROJECT)
    assert declared_parameters("main", [tmp_path, tmp_path / "project"]) == {"conf_file", "alpha"}
    assert declared_parameters("other", [tmp_path / "project"]) == set()


def test_without_a_readable_mlproject_every_parameter_counts(tmp_path: Path) -> None:
    assert project_launch(TAGS, PARAMS, [tmp_path]).parameters == PARAMS
    (tmp_path / "MLproject").write_text("entry_points: [not: a mapping\n")
    assert project_launch(TAGS, PARAMS, [tmp_path]).parameters == PARAMS


def test_an_entry_point_the_mlproject_does_not_declare_keeps_every_parameter(
    tmp_path: Path,
) -> None:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    tags = {**TAGS, "mlflow.project.entryPoint": "train.py"}  # `mlflow run -e train.py`
    assert project_launch(tags, PARAMS, [tmp_path]).parameters == PARAMS


def test_env_manager_and_backend_come_from_the_tags_and_default_to_local(tmp_path: Path) -> None:
    local = project_launch(TAGS, {}, [tmp_path])
    assert (local.env_manager, local.backend) == ("local", "local")
    tags = {**TAGS, "mlflow.project.env": "uv", "mlflow.project.backend": "kubernetes"}
    built = project_launch(tags, {}, [tmp_path])
    assert (built.env_manager, built.backend) == ("uv", "kubernetes")


def test_a_run_id_without_an_entry_point_is_a_plain_python_launch(tmp_path: Path) -> None:
    launch = project_launch({}, PARAMS, [tmp_path])
    assert launch.launcher == "python" and launch.parameters is None and launch.entry_point is None
