"""The run to replay: its record in the tracking store and its manifest, verified payloads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ManifestError, ReplayError
from mlflow_repro.manifest import MANIFEST_ARTIFACT, Manifest, Payload
from mlflow_repro.secrets import strip_url_credentials


@dataclass(frozen=True)
class Original:
    """The run being replayed, with its manifest and its `repro/` payloads downloaded."""

    run: Any  # mlflow.entities.Run: read for what MLflow owns (metrics, params, experiment)
    manifest: Manifest
    payloads: Path  # local directory holding `repro/...`
    signature: str = "unsigned"  # signing.VALID, UNSIGNED or UNVERIFIED (TAMPERED is refused)


def shown_uri(client: Any) -> str:
    """The tracking URI as it may be printed: without credentials."""
    return strip_url_credentials(str(getattr(client, "tracking_uri", "")))


def load_original(client: Any, run_id: str, into: Path, *, deleted: bool = False) -> Original:
    """Fetch the run and its manifest; every payload is downloaded and its sha256 checked.
    A deleted run is refused unless `deleted` (asked for explicitly)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ReplayError(
            f"no run with id {run_id!r} in the tracking store {shown_uri(client)!r} "
            f"({exc.error_code})",
            run_id=run_id,
            step="manifest",
            value=run_id,
            hint="check the id (mlflow ui) or set MLFLOW_TRACKING_URI",
        ) from None
    if run.info.lifecycle_stage == "deleted" and not deleted:
        raise ReplayError(
            "the run is deleted",
            run_id=run_id,
            step="manifest",
            hint="restore it (`mlflow runs restore --run-id ...`), or pass --deleted to replay "
            "it as it is",
        )
    names = {a.path for a in client.list_artifacts(run_id, "repro")}
    if MANIFEST_ARTIFACT not in names:
        raise ReplayError(
            f"the run has no {MANIFEST_ARTIFACT}: it was not recorded with mlflow-repro installed "
            "(or capture was disabled), so there is nothing to rebuild it from",
            run_id=run_id,
            step="manifest",
            hint="install mlflow-repro where the run is made and record a new run",
        )
    into.mkdir(parents=True, exist_ok=True)
    local = Path(client.download_artifacts(run_id, "repro", str(into)))
    try:
        manifest = Manifest.from_json((local / "manifest.json").read_text("utf-8"))
    except ManifestError as exc:
        exc.run_id, exc.step = run_id, "manifest"
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"{MANIFEST_ARTIFACT} cannot be read ({exc})",
            run_id=run_id,
            step="manifest",
            value=MANIFEST_ARTIFACT,
            hint="download it with `mlflow artifacts download` and check it",
        ) from None
    for payload in manifest.payloads():
        check_payload(local.parent, payload, run_id)
    signature = check_signature(local, run_id)
    return Original(run=run, manifest=manifest, payloads=local.parent, signature=signature)


def check_signature(local: Path, run_id: str) -> str:
    """The manifest's signature status. Replay runs the recorded diff and untracked files as
    code: with a team key configured it refuses a manifest that is not signed by that key."""
    from mlflow_repro.signing import (
        KEY_VAR,
        SIGNATURE_ARTIFACT,
        TAMPERED,
        UNSIGNED,
        key_file,
        verify,
    )

    signature_file = local.parent / SIGNATURE_ARTIFACT
    check = verify(
        (local / "manifest.json").read_bytes(),
        signature_file.read_bytes() if signature_file.is_file() else None,
    )
    if check.status == TAMPERED:
        raise ReplayError(
            f"the manifest's signature does not hold: {check.detail}",
            run_id=run_id,
            step="manifest",
            value=SIGNATURE_ARTIFACT,
            hint="the record was changed after it was signed; not running its code",
        )
    if check.status == UNSIGNED and key_file() is not None:
        raise ReplayError(
            "the manifest is unsigned, and a team key is configured: replay runs the recorded "
            "changes as code, so it only replays signed records",
            run_id=run_id,
            step="manifest",
            value=KEY_VAR,
            hint=f"unset {KEY_VAR} to replay an unsigned run you trust",
        )
    return check.status


def check_payload(root: Path, payload: Payload, run_id: str) -> Path:
    path = root / payload.path
    if not path.is_file():
        raise ReplayError(
            f"payload {payload.path} is listed in the manifest but missing",
            run_id=run_id,
            step="manifest",
            value=payload.path,
            hint="the run's repro/ artifacts were changed after the run; not replaying",
        )
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != payload.sha256:
        raise ReplayError(
            f"payload {payload.path} has sha256 {found}, the manifest says {payload.sha256}",
            run_id=run_id,
            step="manifest",
            value=payload.path,
            hint="the artifact was changed after the run; not replaying",
        )
    return path
