"""The template end to end: real git, DVC, uv and `mlflow run` against an embedded sqlite store."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from mlflow_repro.manifest import SCHEMA_VERSION
from tests.conftest import REPO_ROOT, copy_template, mlflow_run, run, venv_env
from tests.e2e.conftest import Trained, all_runs

pytestmark = pytest.mark.e2e

INVALID = REPO_ROOT / "tests" / "confs" / "invalid"


@pytest.mark.parametrize("env_manager", ["local", "uv"])
def test_mlflow_run_logs_params_metrics_dataset_and_registered_model(
    trained: Trained, env_manager: str
) -> None:
    run_ = trained.get(trained.uv_run if env_manager == "uv" else trained.local_run)
    assert run_.info.status == "FINISHED"
    assert run_.data.params["conf_file"] == "confs/training.yaml"
    assert run_.data.params["model.n_estimators"] == "100"
    assert run_.data.params["data.split_seed"] == "42"
    # MLflow tags the environment only when it builds one (uv, virtualenv, conda, docker).
    assert run_.data.tags.get("mlflow.project.env", "local") == env_manager
    # The run-context plugin is active in the environment MLflow built (entry point registered
    # by `uv sync`, the template from PYTHONPATH=src) as much as in the local one.
    assert run_.data.tags["repro.manifest"] == str(SCHEMA_VERSION)
    assert run_.data.tags["repro.env.lock"] == "uv.lock (hashes)"
    assert "repro.capture.errors" not in run_.data.tags
    assert run_.data.tags["repro.env.drift"] == "0"
    assert set(run_.data.metrics) >= {"test_accuracy", "test_f1", "test_roc_auc"}
    assert 0.9 < run_.data.metrics["test_accuracy"] <= 1.0
    [dataset_input] = run_.inputs.dataset_inputs
    assert dataset_input.dataset.name == "data/breast_cancer.csv"

    client = trained.client()
    [version] = [
        v
        for v in client.search_model_versions("name='mlflow-repro-classifier'")
        if v.run_id == run_.info.run_id
    ]
    model_files = {a.path for a in client.list_artifacts(run_.info.run_id, "config")}
    assert model_files == {"config/training.yaml"}

    import mlflow

    mlflow.set_tracking_uri(trained.uri)
    try:
        model = mlflow.sklearn.load_model(f"models:/mlflow-repro-classifier/{version.version}")
    finally:
        mlflow.set_tracking_uri(None)
    frame = __import__("pandas").read_csv(trained.root / "data" / "breast_cancer.csv")
    assert len(model.predict(frame.drop(columns=["target"]).head(5))) == 5


@pytest.mark.parametrize(
    ("conf", "fragments"),
    [
        (
            str(INVALID / "unknown-model-key.yaml"),
            ["unknown-model-key.yaml", "job.model.n_estimator: unknown key"],
        ),
        (str(INVALID / "wrong-type.yaml"), ["wrong-type.yaml", "job.model.n_estimators"]),
        ("confs/does-not-exist.yaml", ["confs/does-not-exist.yaml", "file not found"]),
    ],
    ids=["unknown-key", "wrong-type", "missing-file"],
)
def test_bad_config_under_mlflow_run_fails_clearly_and_leaves_no_running_run(
    template_with_data: Path, tmp_path: Path, conf: str, fragments: list[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = mlflow_run(template_with_data, uri, conf, check=False)
    assert done.returncode != 0
    for fragment in fragments:
        assert fragment in done.stderr
    assert "repro_template: error: invalid configuration file" in done.stderr
    statuses = [r.info.status for r in all_runs(uri)]
    assert statuses == ["FAILED"]


def test_bad_config_outside_mlflow_run_creates_no_run(
    template_with_data: Path, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run(
        [sys.executable, "-m", "repro_template", "train", str(INVALID / "unknown-top-key.yaml")],
        cwd=template_with_data,
        env=venv_env(MLFLOW_TRACKING_URI=uri, PYTHONPATH="src"),
        check=False,
    )
    assert done.returncode == 2
    assert "unknown-top-key.yaml" in done.stderr and "jobs: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_fresh_clone_rebuilds_data_matching_dvc_lock_then_pulls_it_back(tmp_path: Path) -> None:
    project = copy_template(tmp_path / "clone")
    data = project / "data" / "breast_cancer.csv"
    locked = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["prepare"]["outs"][0]
    assert not data.exists()

    # Empty remote: pull fails, the stage rebuilds the exact bytes the lock records.
    assert run(["dvc", "pull"], cwd=project, check=False).returncode != 0
    run(["dvc", "repro"], cwd=project)
    assert md5(data) == locked["md5"]
    assert run(["git", "status", "--porcelain", "dvc.lock"], cwd=project).stdout == ""
    run(["dvc", "status", "--quiet"], cwd=project)

    # The configured local remote (created on push) now serves `dvc pull`.
    run(["dvc", "push"], cwd=project)
    assert (project / ".dvc-storage").is_dir()
    data.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    run(["dvc", "pull"], cwd=project)
    assert md5(data) == locked["md5"]
    assert run(["git", "status", "--porcelain"], cwd=project).stdout == ""


def test_the_first_run_of_a_fresh_clone_brings_its_data_from_dvc(trained: Trained) -> None:
    """The mission's `mlflow run` in a clone with no data: the job pulls it (the remote is
    empty here, so its DVC stage rebuilds it), checks it against dvc.lock, and the run's
    manifest records that data, clean."""
    locked = yaml.safe_load((trained.root / "dvc.lock").read_text())["stages"]["prepare"]
    md5_locked = locked["outs"][0]["md5"]
    said = trained.uv_run_output
    assert "data/breast_cancer.csv is not in the workspace: bringing it from DVC" in said
    assert f"rebuilt by dvc repro; md5 {md5_locked} as dvc.lock records" in said
    run_ = trained.get(trained.uv_run)
    assert run_.info.status == "FINISHED"
    assert run_.data.tags["repro.data.dirty"] == "false"
    assert md5(trained.root / "data" / "breast_cancer.csv") == md5_locked
    assert run(["git", "status", "--porcelain"], cwd=trained.root).stdout == ""


def test_mlflow_run_without_pyenv_names_the_fix_and_creates_no_run(
    template_with_data: Path, tmp_path: Path
) -> None:
    """MLflow's default manager for a python_env project, virtualenv, needs pyenv: without it
    MLflow used to fail inside `pyenv install` and leave the run RUNNING."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("git", "uv"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "mlflow", "run", "-P", "conf_file=confs/training.yaml", "."]
    env = venv_env(MLFLOW_TRACKING_URI=uri, PATH=f"{tools}:/usr/bin:/bin")
    done = run(cmd, cwd=template_with_data, env=env, check=False)
    assert done.returncode == 1
    assert "virtualenv, needs pyenv to provide Python 3.11" in done.stderr
    assert "no run was created" in done.stderr and "--env-manager uv" in done.stderr
    assert "FileNotFoundError" not in done.stderr
    assert all_runs(uri) == []
