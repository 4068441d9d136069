"""PyTorch and TensorFlow runs come from uv.lock and replay identical from a fresh clone.

Each framework's conf is trained through `mlflow run`: PyTorch with the template's default
environment manager, uv (MLflow builds its environment from uv.lock's default groups; the job adds
its framework's group from the same lock, hash-checked, in a sibling environment:
repro_template/jobs/prerequisites.py), TensorFlow in `.venv` (local), where `just install-
frameworks` installed both groups from the lock. The run is then replayed by `mlflow-repro
reproduce` from another directory, in a fresh clone: metrics equal as floats, model files equal
hash by hash (raw bytes, or content where the format writes object ids, save times or source paths:
mlflow_repro.modelfiles; the verdict names those). scikit-learn is covered the same way by
tests/e2e/test_replay.py. `just test` sets MLFLOW_REPRO_REQUIRE_FRAMEWORKS=1 so that frameworks
missing from .venv fail there instead of skipping.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro import model_digest
from mlflow_repro.modelfiles import ModelFile, model_files
from tests.conftest import Repo, require, run, venv_env
from tests.e2e.conftest import Trained, train_with_output

pytestmark = pytest.mark.e2e

FRAMEWORKS = {
    # conf, module, registered model, distribution the lock pins, file normalised by content,
    # environment manager: torch through MLflow's uv environment, where the job adds its group in
    # a sibling environment; TensorFlow in `.venv` (`--env-manager local`), where
    # `just install-frameworks` put it (and where its bytecode is compiled: TensorFlow imports
    # take 14 s without it, twice per test)
    "torch": (
        "confs/training-torch.yaml",
        "torch",
        "mlflow-repro-torch-classifier",
        "torch==2.13.0",
        "data/model.pt2",
        "uv",
    ),
    "tensorflow": (
        "confs/training-tensorflow.yaml",
        "tensorflow",
        "mlflow-repro-keras-classifier",
        "tensorflow-cpu==2.21.0",
        "data/model.keras",
        "local",
    ),
}


def logged_files(uri: str, model_uri: str) -> dict[str, ModelFile]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            return {f.path: f for f in model_files(local)}
    finally:
        mlflow.set_tracking_uri(None)


def artifact(client: Any, run_id: str, path: str, into: Path) -> str:
    return Path(client.download_artifacts(run_id, path, str(into))).read_text()


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_a_framework_run_is_locked_with_hashes_and_replays_identical_from_a_fresh_clone(
    framework: str, trained: Trained, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    conf, module, registered, pin, normalised, manager = FRAMEWORKS[framework]
    require(module)
    uri = f"sqlite:///{tmp_path / 'frameworks.db'}"
    original, _ = train_with_output(trained.root, uri, manager, "frameworks", conf)
    client = MlflowClient(tracking_uri=uri)
    first = client.get_run(original)
    assert first.info.status == "FINISHED"
    assert first.data.tags.get("mlflow.project.env", "local") == manager

    # The framework came from uv.lock: its group is recorded and exported with its hashes.
    manifest = json.loads(artifact(client, original, "repro/manifest.json", tmp_path / "m"))
    env = manifest["environment"]
    # (.venv holds both frameworks: the TensorFlow run records both groups.)
    assert framework in env["groups"] and env["unlocked"] == {} and env["drift"] == []
    locked = artifact(client, original, "repro/requirements.lock.txt", tmp_path / "r")
    [line] = [x for x in locked.splitlines() if x.startswith(pin.split("==")[0] + "==")]
    assert line.startswith(pin + " ") and line.count("--hash=sha256:") >= 1
    # The exact build: the wheel installed, its sha256 one of the lock's for that line.
    [build] = [b for b in env["frameworks"] if b["name"] == pin.split("==")[0]]
    assert build["wheel"].endswith(".whl") and f"--hash=sha256:{build['sha256']}" in line
    if framework == "torch":  # the CUDA build's NVIDIA wheels are the lock's too
        assert any(
            x.startswith("nvidia-cudnn-cu13==") and "--hash=" in x for x in locked.split("\n")
        )
        torch_build = manifest["gpu"]["frameworks"]["torch"]["version"]
        assert torch_build == build["build"] and torch_build.startswith("2.13.0+")  # +cu130
    assert first.data.tags["repro.status"] == "reproducible"
    assert manifest["seeds"]["seed"] == 42
    assert manifest["seeds"]["source"] == "seed_everything:argument"
    switch = "torch.deterministic_algorithms" if module == "torch" else "tensorflow.op_determinism"
    assert manifest["seeds"]["deterministic"][switch] == "True"

    # Replayed from another directory: a fresh clone, the recorded manager, the same wheels.
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", original, "--json"]
    done = run(cmd, cwd=elsewhere, env=venv_env(MLFLOW_TRACKING_URI=uri))
    result = json.loads(done.stdout)
    verdict = result["verdict"]
    assert verdict["verdict"] == "identical", verdict["differences"]
    assert verdict["metrics_compared"] == 5 and verdict["model_files_compared"] >= 5
    assert not Path(result["workspace"]).is_relative_to(trained.root)
    assert any(normalised in n for n in verdict["normalised"]), verdict["normalised"]
    new = client.get_run(result["new_run_id"])
    assert new.data.metrics == first.data.metrics  # exact float equality, value by value
    assert new.data.tags["model.digest"] == first.data.tags["model.digest"]
    replay_env = json.loads(
        artifact(client, new.info.run_id, "repro/manifest.json", tmp_path / "n")
    )["environment"]
    assert replay_env["groups"] == env["groups"] and replay_env["drift"] == []
    assert replay_env["frameworks"] == env["frameworks"]  # the same wheels, hash for hash
    assert artifact(client, new.info.run_id, "repro/requirements.lock.txt", tmp_path / "q") == (
        locked
    )
    # The original's registered version, file by file, against the replay's logged model.
    [version] = client.search_model_versions(f"name='{registered}'")
    a = logged_files(uri, f"models:/{registered}/{version.version}")
    b = logged_files(uri, f"runs:/{new.info.run_id}/model")
    for path, file in a.items():
        if file.canonical == "logging-metadata":
            continue
        assert file.content == b[path].content, path
        if path != normalised:
            assert file.sha256 == b[path].sha256, path  # the very same bytes
    assert model_digest(list(a.values())) == first.data.tags["model.digest"]


def test_a_lock_that_names_another_torch_build_is_refused_naming_both(
    repo: Repo, tmp_path: Path
) -> None:
    """The run's uv.lock names torch 2.12.0 while the environment it ran in held 2.13.0: a
    replay would install the lock's build, not the run's, so it refuses (exit 2), names both,
    and creates nothing."""
    require("torch")
    from mlflow_repro.installed import installed_distributions

    held = installed_distributions()["torch"]
    repo.write(
        "pyproject.toml",
        '[project]\nname = "drifted"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["torch==2.12.0"]\n[tool.uv]\npackage = false\n'
        "environments = [\"sys_platform == 'linux' and platform_machine == 'x86_64'\"]\n",
    )
    repo.write(
        "train.py",
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('x', 1.0)\n",
    )
    run(["uv", "lock", "--quiet"], cwd=repo.root)  # resolves torch 2.12.0 from PyPI
    repo.commit("a project locked to torch 2.12.0")
    uri = f"sqlite:///{tmp_path / 'drift.db'}"
    run([sys.executable, "train.py"], cwd=repo.root, env=venv_env(MLFLOW_TRACKING_URI=uri))
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [made] = client.search_runs(["0"])
    assert made.data.tags["repro.status"] == "unlocked"
    before = repo.git("status", "--porcelain")
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", made.info.run_id]
    done = run(cmd, cwd=tmp_path, env=venv_env(MLFLOW_TRACKING_URI=uri), check=False)
    assert done.returncode == 2, done.stderr
    assert "from the recorded lock would install torch 2.12.0 where the run used " in done.stderr
    assert f"where the run used {held} (build {held}+" in done.stderr  # +cu130: the wheel's build
    assert len(client.search_runs(["0"])) == 1  # no re-run was started
    assert repo.git("status", "--porcelain") == before
