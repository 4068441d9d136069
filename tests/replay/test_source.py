"""The run to replay is read from a real (sqlite) tracking store: deleted runs are refused unless
asked for, and the manifest's payloads are hash-checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.replay.source import load_original
from tests.conftest import NO_CAPTURE


def a_logged_run(tmp_path: Path) -> tuple[object, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run_id = client.create_run(experiment, tags=NO_CAPTURE).info.run_id
    client.log_text(run_id, Manifest().to_json(), "repro/manifest.json")
    return client, run_id


def test_a_deleted_run_is_refused_unless_asked_for(tmp_path: Path) -> None:
    client, run_id = a_logged_run(tmp_path)
    client.delete_run(run_id)  # type: ignore[attr-defined]
    with pytest.raises(ReplayError, match="the run is deleted") as caught:
        load_original(client, run_id, tmp_path / "a")
    assert "--deleted" in str(caught.value)
    original = load_original(client, run_id, tmp_path / "b", deleted=True)
    assert original.manifest == Manifest() and original.signature == "unsigned"
