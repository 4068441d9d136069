"""Log a run's manifest, with the process's staged payloads and the `repro.*` tags, to MLflow."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import MANIFEST_ARTIFACT, Manifest
from mlflow_repro.names import CAPTURE_ERRORS_TAG

# MLflow's limits (mlflow/utils/validation.py), and the width of a SQL store's columns.
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 8000
CUT_MARK = " [cut]"


def within_limits(tags: Mapping[str, str]) -> dict[str, str]:
    """`tags` with over-long keys and values cut to MLflow's limits, values marked as cut."""
    return {
        key[:MAX_TAG_KEY]: value
        if len(value) <= MAX_TAG_VALUE
        else value[: MAX_TAG_VALUE - len(CUT_MARK)] + CUT_MARK
        for key, value in tags.items()
    }


def publish(
    client: Any, run: Any, captured: Captured, manifest: Manifest, *, with_tags: bool = False
) -> None:
    """Upload `repro/` to the run: the staged payloads, shared by every run of the process, and
    `manifest`, this run's own (`Captured.for_run`); set the tags when asked.

    `run` is the Run object MLflow returned: its artifact URI spares the store a lookup (the
    largest part of the cost for runs after the first in a process). Failures are recorded on
    the run as `repro.capture.errors` and never raised.
    """
    run_id = run.info.run_id
    try:
        if with_tags:
            from mlflow.entities import RunTag

            tags = within_limits(manifest.tags())
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repository: Any = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        folder, name = MANIFEST_ARTIFACT.rsplit("/", 1)
        if manifest.payloads():
            repository.log_artifacts(str(captured.staging.root), artifact_path=folder)
        with tempfile.TemporaryDirectory(prefix="mlflow-repro-manifest-") as tmp:
            path = Path(tmp) / name
            path.write_text(manifest.to_json(), encoding="utf-8")
            repository.log_artifact(str(path), artifact_path=folder)
    except Exception as exc:
        note = f"publish: {type(exc).__name__}: {exc}"
        previous = manifest.tags().get(CAPTURE_ERRORS_TAG)
        errors = within_limits({CAPTURE_ERRORS_TAG: f"{previous}; {note}" if previous else note})
        with contextlib.suppress(Exception):
            client.set_tag(run_id, CAPTURE_ERRORS_TAG, errors[CAPTURE_ERRORS_TAG])
