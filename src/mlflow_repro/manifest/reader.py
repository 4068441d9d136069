"""The one reader of a logged manifest: a run's `repro/` downloaded, the manifest parsed, every
payload's sha256 and the signature checked. It returns what it found and what is wrong with it
(`findings`), never raising for the run's state: replay refuses on the findings, audit, diff and
parity report them, and every command exits non-zero on them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ManifestError
from mlflow_repro.manifest.schema import MANIFEST_ARTIFACT, Manifest
from mlflow_repro.names import LAUNCH_ERROR_TAG
from mlflow_repro.signing import (
    KEY_VAR,
    SIGNATURE_ARTIFACT,
    TAMPERED,
    UNSIGNED,
    SignatureCheck,
    key_file,
    verify,
)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a logged record, and what to do about it."""

    kind: str  # absent | unreadable | not-finished | payload | signature
    problem: str
    hint: str


@dataclass(frozen=True)
class LoggedRecord:
    """A run with its manifest as logged, and everything found wrong with it."""

    run: Any  # mlflow.entities.Run: params, metrics, tags, experiment, status
    manifest: Manifest | None  # None: absent or unreadable (`findings` says which)
    payloads: Path | None  # local folder holding `repro/`
    findings: list[Finding] = field(default_factory=list)
    signature: SignatureCheck | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)

    @property
    def problem(self) -> str | None:
        """Why there is no usable manifest, or None."""
        for finding in self.findings:
            if finding.kind in ("absent", "unreadable", "not-finished"):
                return finding.problem
        return None

    @property
    def payload_problems(self) -> list[str]:
        return [f.problem for f in self.findings if f.kind == "payload"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _no_manifest(run: Any) -> Finding:
    """Why a run holds no manifest, from what MLflow says of the run."""
    status = str(run.info.status)
    reason = run.data.tags.get(LAUNCH_ERROR_TAG, "")
    if status == "RUNNING":
        return Finding(
            "not-finished",
            f"the run is still RUNNING and holds no {MANIFEST_ARTIFACT} yet: its job has not "
            "started or not got as far as capture (or its launch failed without MLflow marking "
            "it), so there is nothing to replay or audit yet",
            "wait for the run to end, or look at the output of the command that started it",
        )
    if status in ("FAILED", "KILLED"):
        because = f" ({reason})" if reason else ""
        return Finding(
            "not-finished",
            f"the run {status} before a manifest was logged{because}: there is nothing to replay",
            "fix the cause and start the run again",
        )
    return Finding(
        "absent",
        f"the run has no {MANIFEST_ARTIFACT}: it was recorded without mlflow-repro (or with "
        "capture disabled), so there is nothing to rebuild it from",
        "install mlflow-repro where runs are made and record a new run",
    )


def read_logged(client: Any, run_id: str, into: Path) -> LoggedRecord:
    """Run `run_id`, its `repro/` downloaded into `into`, the manifest parsed, payload hashes
    and the signature checked. Raises UsageError only when the run does not exist or the store
    does not answer (`store.get_run`), or when the configured team key is unusable."""
    from mlflow_repro.store import get_run, is_store_failure, scrub

    run = get_run(client, run_id)
    # Straight to the run's artifact store (MLflow's client would look the run up again for
    # every list and download).
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    into.mkdir(parents=True, exist_ok=True)
    local = into / "repro"
    try:
        repository = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        listed = {a.path for a in repository.list_artifacts("repro")}
        if MANIFEST_ARTIFACT in listed:
            local = Path(repository.download_artifacts("repro", str(into)))
    except Exception as exc:
        if not (is_store_failure(exc) or isinstance(exc, OSError)):
            raise
        why = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        found = Finding(
            "unreadable",
            f"its artifacts cannot be read ({why[:300]})",
            "check that the artifact store is reachable, then try again",
        )
        return LoggedRecord(run, None, None, [found])
    manifest_file = local / "manifest.json"
    if not manifest_file.is_file():
        return LoggedRecord(run, None, None, [_no_manifest(run)])
    try:
        raw = manifest_file.read_bytes()
        manifest = Manifest.from_json(raw.decode("utf-8"))
    except (ManifestError, OSError, UnicodeDecodeError) as exc:
        what = "is not a valid manifest" if isinstance(exc, ManifestError) else "cannot be read"
        found = Finding(
            "unreadable",
            f"{MANIFEST_ARTIFACT} {what}: {exc}",
            "the record was damaged or changed after the run; restore it from a backup of the "
            "artifact store, or record a new run",
        )
        return LoggedRecord(run, None, local.parent, [found])
    findings = []
    for payload in manifest.payloads():
        path = local.parent / payload.path
        if not path.is_file():
            problem = f"{payload.path}: listed in the manifest, not among the artifacts"
        elif (digest := _sha256(path)) != payload.sha256:
            problem = f"{payload.path}: sha256 {digest[:12]}..., recorded {payload.sha256[:12]}..."
        else:
            continue
        findings.append(
            Finding(
                "payload",
                problem,
                "the run's repro/ artifacts were changed after the run; restore them from a backup",
            )
        )
    signature_file = local.parent / SIGNATURE_ARTIFACT
    signature = verify(raw, signature_file.read_bytes() if signature_file.is_file() else None)
    if signature.status == TAMPERED:
        findings.append(
            Finding(
                "signature",
                f"the manifest's signature does not hold: {signature.detail}",
                "the record was changed after it was signed: do not trust it or run its code",
            )
        )
    elif signature.status == UNSIGNED and key_file() is not None:
        findings.append(
            Finding(
                "signature",
                f"the manifest is unsigned ({signature.detail}), and a team key is configured "
                f"({KEY_VAR}): either it was recorded without the key or its signature was "
                "removed",
                f"record runs with the team key configured; unset {KEY_VAR} only for a run "
                "you trust",
            )
        )
    return LoggedRecord(run, manifest, local.parent, findings, signature)
