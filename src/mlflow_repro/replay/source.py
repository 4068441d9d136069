"""The run to replay: its record in the tracking store and its manifest, verified payloads.

Read by the one reader (`manifest/reader.py`); replay refuses on anything it found wrong."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest, Payload
from mlflow_repro.manifest.reader import read_logged


@dataclass(frozen=True)
class Original:
    """The run being replayed, with its manifest and its `repro/` payloads downloaded."""

    run: Any  # mlflow.entities.Run: read for what MLflow owns (metrics, params, experiment)
    manifest: Manifest
    payloads: Path  # local directory holding `repro/...`
    signature: str = "unsigned"  # signing.VALID, UNSIGNED or UNVERIFIED (TAMPERED is refused)


def load_original(
    client: Any, run_id: str, into: Path, *, deleted: bool = False, failed: bool = False
) -> Original:
    """Fetch the run and its manifest; every payload is downloaded and its sha256 checked, the
    signature verified. A deleted run is refused unless `deleted`, a run that failed unless
    `failed` (both asked for explicitly), before anything is rebuilt."""
    record = read_logged(client, run_id, into)
    run = record.run
    if run.info.lifecycle_stage == "deleted" and not deleted:
        raise ReplayError(
            "the run is deleted",
            run_id=run_id,
            step="manifest",
            hint="restore it (`mlflow runs restore --run-id ...`), or pass --deleted to replay "
            "it as it is",
        )
    if record.findings:
        first = record.findings[0]
        more = "; ".join(f.problem for f in record.findings[1:])
        raise ReplayError(
            first.problem + (f"; also: {more}" if more else ""),
            run_id=run_id,
            step="manifest",
            hint=f"{first.hint}; not replaying",
        )
    if run.info.status in ("FAILED", "KILLED") and not failed:
        raise ReplayError(
            f"the original run itself {run.info.status} (MLflow's status of the run): a "
            "replay would spend the rebuild and the re-run on reproducing a failure",
            run_id=run_id,
            step="manifest",
            value=run.info.status,
            hint="see the run's logs for why it failed; pass --failed to replay it anyway (to "
            "show the failure is reproducible)",
        )
    assert record.manifest is not None and record.payloads is not None
    status = record.signature.status if record.signature is not None else "unsigned"
    return Original(run, record.manifest, record.payloads, status)


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
