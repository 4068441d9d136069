"""Seeded template runs are bit-for-bit repeatable with scikit-learn, PyTorch and TensorFlow.

Each framework's conf runs twice through `mlflow run`; the metrics must be equal as floats and the
logged model files equal hash by hash (raw bytes, or content where the format writes object ids
or save times; see mlflow_repro.modelfiles). PyTorch and TensorFlow come from the optional extras
(`just install-frameworks`); `just test` sets MLFLOW_REPRO_REQUIRE_FRAMEWORKS=1 so that a missing
framework fails there instead of skipping.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from mlflow_repro.modelfiles import ModelFile, model_digest, model_files
from tests.conftest import mlflow_run, require

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


@pytest.mark.parametrize("framework", list(CONFS))
def test_two_runs_give_identical_metrics_and_model_files(
    framework: str, template_with_data: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    conf, module, registered = CONFS[framework]
    require(module)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_run(template_with_data, uri, conf, experiment="frameworks")
    mlflow_run(template_with_data, uri, conf, experiment="frameworks")

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("frameworks").experiment_id
    first, second = client.search_runs([experiment], order_by=["start_time"])
    assert first.info.status == second.info.status == "FINISHED"
    assert "test_log_loss" in first.data.metrics
    assert first.data.metrics == second.data.metrics  # exact float equality, value by value

    a, b = (logged_files(uri, f"models:/{registered}/{v}") for v in (1, 2))
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
