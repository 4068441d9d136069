"""Log a captured manifest and its payloads to an MLflow run."""

from __future__ import annotations

import contextlib
from typing import Any

from mlflow_repro.capture import Captured
from mlflow_repro.names import CAPTURE_ERRORS_TAG as ERRORS_TAG


def publish(client: Any, run: Any, captured: Captured, *, with_tags: bool) -> None:
    """Upload `repro/` (manifest.json and payloads) to the run; set the tags when asked.

    `run` is the Run object MLflow returned: its artifact URI spares the store a lookup (the
    largest part of the cost for runs after the first in a process). Failures are recorded on
    the run as `repro.capture.errors` and never raised.
    """
    run_id = run.info.run_id
    try:
        if with_tags:
            from mlflow.entities import RunTag

            tags = captured.manifest.tags()
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repository: Any = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        repository.log_artifacts(str(captured.staging.root), artifact_path="repro")
    except Exception as exc:
        note = f"publish: {type(exc).__name__}: {exc}"[:2000]
        previous = captured.manifest.tags().get(ERRORS_TAG)
        with contextlib.suppress(Exception):
            client.set_tag(run_id, ERRORS_TAG, f"{previous}; {note}" if previous else note)
