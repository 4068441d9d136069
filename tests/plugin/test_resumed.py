"""Runs launched by `mlflow run`: the child captures for the run it resumes, records the launch
as MLflow's parent made it, and refreshes the seeds at exit when the job seeded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import Manifest
from mlflow_repro.names import CAPTURED_RUN_VAR
from mlflow_repro.plugin import resumed
from mlflow_repro.plugin.state import ProcessState, process
from tests.captures import small_capture
from tests.conftest import NO_CAPTURE

MLPROJECT = """\
name: demo
entry_points:
  main:
    parameters:
      conf_file: {type: str, default: confs/training.yaml}
    command: "python train.py {conf_file}"
"""


@pytest.fixture
def captured(fresh_process: ProcessState) -> Iterator[Captured]:
    made = small_capture()
    fresh_process.captured = made
    yield made
    made.staging.cleanup()


def project_run(tmp_path: Path) -> str:
    """A run as `mlflow run -P conf_file=confs/a.yaml --env-manager uv` creates it, plus a param
    the job logged before capture read the run."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    tags = {"mlflow.project.entryPoint": "main", "mlflow.project.env": "uv"}
    run_id: str = client.create_run("0", tags={**tags, **NO_CAPTURE}).info.run_id
    params = [Param("conf_file", "confs/a.yaml"), Param("model.max_iter", "200")]
    client.log_batch(run_id, params=params)
    return run_id


def logged_manifest(run_id: str, where: Path) -> Manifest:
    from mlflow.tracking import MlflowClient

    local = MlflowClient().download_artifacts(run_id, "repro/manifest.json", str(where))
    return Manifest.from_json(Path(local).read_text())


def test_the_resumed_run_records_the_launch_mlflow_run_made(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # the job runs in the project directory
    (tmp_path / "MLproject").write_text(MLPROJECT)
    run_id = project_run(tmp_path)
    resumed._capture(run_id, 0)
    launch = logged_manifest(run_id, tmp_path / "dl").launch
    assert launch.launcher == "mlflow run" and launch.entry_point == "main"
    assert launch.parameters == {"conf_file": "confs/a.yaml"}
    assert (launch.env_manager, launch.backend, launch.run_index) == ("uv", "local", 0)
    tags = MlflowClient().get_run(run_id).data.tags
    assert tags["repro.capture.id"] == process().capture_id and "repro.manifest" in tags


def test_seeds_set_by_the_job_are_refreshed_at_exit_and_the_launch_is_kept(
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
    fresh_process: ProcessState,
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    (tmp_path / "MLproject").write_text(MLPROJECT)
    ledger = fresh_process.ledger
    run_id = project_run(tmp_path)
    resumed._capture(run_id, 0)
    before = logged_manifest(run_id, tmp_path / "before")

    ledger.record_seed_everything(21, "argument", False, ["random"])  # the job seeds, later
    resumed._wait_for_pending()
    after = logged_manifest(run_id, tmp_path / "after")
    assert (after.seeds.seed, after.seeds.source) == (21, "seed_everything:argument")
    assert after.seeds.rng_fingerprint == before.seeds.rng_fingerprint
    assert after.launch == before.launch  # still the run's own launch record
    assert MlflowClient().get_run(run_id).data.tags["repro.seed"] == "21"


def test_blas_libraries_loaded_after_capture_are_recorded_at_exit(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    """Capture runs beside the job's imports: scipy's OpenBLAS may load after it looked. At exit
    the manifest lists every library loaded, whatever the timing."""
    from mlflow_repro.capture import platform

    monkeypatch.chdir(tmp_path)
    (tmp_path / "MLproject").write_text(MLPROJECT)
    run_id = project_run(tmp_path)
    monkeypatch.setattr(platform, "loaded_blas", lambda: [{"prefix": "libopenblas"}])
    resumed._capture(run_id, 0)
    assert (
        logged_manifest(run_id, tmp_path / "before").platform.blas
        == captured.manifest.platform.blas
    )
    both = [{"prefix": "libopenblas"}, {"prefix": "libscipy_openblas"}]
    monkeypatch.setattr(platform, "loaded_blas", lambda: both)  # the job imported scipy
    resumed._wait_for_pending()
    after = logged_manifest(run_id, tmp_path / "after")
    assert after.platform.blas == both
    assert after.launch.launcher == "mlflow run"


def test_start_claims_the_first_run_index_marks_the_rng_and_captures_once(
    monkeypatch: pytest.MonkeyPatch, captured: Captured, fresh_process: ProcessState
) -> None:
    calls: list[tuple[str, int]] = []
    ledger = fresh_process.ledger
    monkeypatch.setattr(resumed, "_capture", lambda run_id, index: calls.append((run_id, index)))
    # Exit hook registered already: the test process's exit must not join or refresh anything.
    pending: list[Any] = fresh_process.resumed_threads
    pending.append(threading.Thread(target=lambda: None))
    monkeypatch.setenv("MLFLOW_RUN_ID", "r1")
    monkeypatch.delenv(CAPTURED_RUN_VAR, raising=False)
    resumed.start()
    resumed.start()  # a second instantiation (or a child process): no second capture
    pending[-1].join(10)
    assert calls == [("r1", 0)] and len(pending) == 2
    assert fresh_process.next_run_index() == 1  # a run start_run creates next is the second
    assert ledger.run_start_fingerprint is not None
