"""The run to replay: its record in the tracking store and its manifest, verified payloads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest, Payload

MANIFEST = "repro/manifest.json"


@dataclass(frozen=True)
class Original:
    """The run being replayed, with its manifest and its `repro/` payloads downloaded."""

    run: Any  # mlflow.entities.Run
    manifest: Manifest
    payloads: Path  # local directory holding `repro/...`


def load_original(client: Any, run_id: str, into: Path) -> Original:
    """Fetch the run and its manifest; every payload is downloaded and its sha256 checked."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ReplayError(
            f"no run with id {run_id!r} in the tracking store {client.tracking_uri!r} "
            f"({exc.error_code}); check the id (mlflow ui) or set MLFLOW_TRACKING_URI"
        ) from None
    names = {a.path for a in client.list_artifacts(run_id, "repro")}
    if MANIFEST not in names:
        raise ReplayError(
            f"run {run_id} has no {MANIFEST}: it was not recorded with mlflow-repro installed "
            "(or capture was disabled), so there is nothing to rebuild it from"
        )
    into.mkdir(parents=True, exist_ok=True)
    local = Path(client.download_artifacts(run_id, "repro", str(into)))
    try:
        manifest = Manifest.from_json((local / "manifest.json").read_text("utf-8"))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ReplayError(f"run {run_id}: {MANIFEST} cannot be read: {exc}") from exc
    for payload in manifest.payloads():
        check_payload(local.parent, payload, run_id)
    return Original(run=run, manifest=manifest, payloads=local.parent)


def check_payload(root: Path, payload: Payload, run_id: str) -> Path:
    path = root / payload.path
    if not path.is_file():
        raise ReplayError(f"run {run_id}: payload {payload.path} is listed but missing")
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != payload.sha256:
        raise ReplayError(
            f"run {run_id}: payload {payload.path} has sha256 {found}, the manifest says "
            f"{payload.sha256}: the artifact was changed after the run; not replaying"
        )
    return path
