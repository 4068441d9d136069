"""Seeded template runs are bit-for-bit repeatable with scikit-learn, PyTorch and TensorFlow.

Each framework's conf runs twice through `mlflow run`; the metrics must be equal as floats and the
logged model files equal hash by hash (raw bytes, or content where the format writes object ids
or save times; see mlflow_repro.modelfiles). scikit-learn uses the session's shared runs.
PyTorch and TensorFlow come from the framework dependency groups
(`just install-frameworks`); `just test` sets MLFLOW_REPRO_REQUIRE_FRAMEWORKS=1 so that a missing
framework fails there instead of skipping.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro import model_digest
from mlflow_repro.modelfiles import ModelFile, model_files
from tests.conftest import mlflow_run, require
from tests.e2e.conftest import Trained

pytestmark = pytest.mark.e2e

CONFS = {
    "sklearn": ("confs/training.yaml", None, "mlflow-repro-classifier"),
    "torch": ("confs/training-torch.yaml", "torch", "mlflow-repro-torch-classifier"),
    "tensorflow": ("confs/training-tensorflow.yaml", "tensorflow", "mlflow-repro-keras-classifier"),
}
# Files whose bytes may differ between equal models, and why (their content must not).
NOISY = {"model.skops": "skops object ids", "data/model.keras": "keras object ids, save time"}


def logged_files(uri: str, model_uri: str) -> dict[str, ModelFile]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            return {f.path: f for f in model_files(local)}
    finally:
        mlflow.set_tracking_uri(None)


def two_runs(
    framework: str, template_with_data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, Any, Any]:
    """Two FINISHED runs of the framework's conf: for scikit-learn the session's shared ones."""
    from mlflow.tracking import MlflowClient

    conf, _, _ = CONFS[framework]
    if framework == "sklearn":
        trained: Trained = request.getfixturevalue("trained")
        client = MlflowClient(tracking_uri=trained.uri)
        return trained.uri, *(
            client.get_run(r) for r in (trained.local_run, trained.local_run_again)
        )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_run(template_with_data, uri, conf, experiment="frameworks")
    mlflow_run(template_with_data, uri, conf, experiment="frameworks")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("frameworks").experiment_id
    first, second = client.search_runs([experiment], order_by=["start_time"])
    return uri, first, second


def registered_version(uri: str, registered: str, run_id: str) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [version] = [
        v for v in client.search_model_versions(f"name='{registered}'") if v.run_id == run_id
    ]
    return str(version.version)


def probabilities(uri: str, model_uri: str, table: Path) -> Any:
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.sklearn.load_model(model_uri)
    finally:
        mlflow.set_tracking_uri(None)
    return model.predict_proba(pd.read_csv(table).drop(columns=["target"]))


@pytest.mark.parametrize("framework", list(CONFS))
def test_two_runs_give_identical_metrics_and_model_files(
    framework: str, template_with_data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from mlflow.tracking import MlflowClient

    _, module, registered = CONFS[framework]
    require(module)
    uri, first, second = two_runs(framework, template_with_data, tmp_path, request)
    client = MlflowClient(tracking_uri=uri)
    assert first.info.status == second.info.status == "FINISHED"
    assert first.info.run_id != second.info.run_id
    assert "test_log_loss" in first.data.metrics
    assert first.data.metrics == second.data.metrics  # exact float equality, value by value

    versions = [registered_version(uri, registered, r.info.run_id) for r in (first, second)]
    a, b = (logged_files(uri, f"models:/{registered}/{v}") for v in versions)
    assert set(a) == set(b) and any(f.canonical == "bytes" for f in a.values())
    for path, file in a.items():
        if file.canonical == "logging-metadata":
            continue  # run id, model id, time, registered version
        assert file.content == b[path].content, path
        if path not in NOISY:
            assert file.sha256 == b[path].sha256, path  # the very same bytes
    digest = model_digest(list(a.values()))
    assert first.data.tags["model.digest"] == second.data.tags["model.digest"] == digest

    # The manifest names the seed the job set and, for the MLPs, the deterministic switches.
    manifest = json.loads(
        Path(
            client.download_artifacts(first.info.run_id, "repro/manifest.json", str(tmp_path))
        ).read_text()
    )
    if module is None:
        # The logged models, loaded back, answer identically on every row (the skops files
        # themselves differ: they name their members after object ids).
        table = template_with_data / "data" / "breast_cancer.csv"
        p, q = (probabilities(uri, f"models:/{registered}/{v}", table) for v in versions)
        assert p.shape[0] > 500 and (p == q).all()
        return
    assert manifest["seeds"]["seed"] == 42
    assert manifest["seeds"]["source"] == "seed_everything:argument"
    assert module in manifest["seeds"]["seeded"]
    switch = "torch.deterministic_algorithms" if module == "torch" else "tensorflow.op_determinism"
    assert manifest["seeds"]["deterministic"][switch] == "True"
    assert first.data.tags["repro.seed"] == "42"
    # Installed with pip beside the lock: recorded with its exact version.
    installed = "torch" if module == "torch" else "tensorflow-cpu"
    assert manifest["environment"]["unlocked"][installed].startswith(
        "2.13.0" if module == "torch" else "2.21.0"
    )


def test_a_missing_framework_is_a_clear_error_and_fails_the_run(
    template_with_data: Path, tmp_path: Path
) -> None:
    """The uv environment MLflow builds from python_env.yaml holds no torch (an extra)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = mlflow_run(
        template_with_data, uri, "confs/training-torch.yaml", "uv", False, "frameworks"
    )
    assert done.returncode != 0
    assert "job.model.KIND: TorchMLP needs torch, which is not installed" in done.stderr
    assert "just install-frameworks" in done.stderr
    client = MlflowClient(tracking_uri=uri)
    [run_] = client.search_runs([client.get_experiment_by_name("frameworks").experiment_id])
    assert run_.info.status == "FAILED"
