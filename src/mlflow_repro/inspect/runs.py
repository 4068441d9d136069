"""What inspect reads: a target resolved to a run, and that run's manifest with its payloads,
their hashes and the manifest's signature checked (reported, never raised)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ManifestError, UsageError
from mlflow_repro.manifest import MANIFEST_ARTIFACT, Manifest
from mlflow_repro.secrets import strip_url_credentials
from mlflow_repro.signing import SIGNATURE_ARTIFACT, SignatureCheck, verify

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Target:
    """A run, reached directly or through a registered model version."""

    given: str
    run_id: str
    model_name: str | None = None
    model_version: str | None = None
    model_source: str | None = None  # the version's source (models:/m-... or runs:/...)


@dataclass(frozen=True)
class RunRecord:
    """A run as inspect sees it."""

    run: Any  # mlflow.entities.Run: params, metrics, tags, experiment
    manifest: Manifest | None
    problem: str | None  # why there is no manifest (absent, unreadable)
    payloads: Path | None  # local folder holding `repro/`
    payload_problems: list[str] = field(default_factory=list)  # missing or changed payloads
    signature: SignatureCheck | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)


def client_for(tracking_uri: str | None) -> Any:
    from mlflow_repro.store import tracking_client

    return tracking_client(tracking_uri)


def shown_uri(client: Any) -> str:
    return strip_url_credentials(str(getattr(client, "tracking_uri", "")))


def resolve(client: Any, given: str) -> Target:
    """`given` as a run id or a `models:/name/version` / `models:/name@alias` URI."""
    from mlflow.exceptions import MlflowException

    match = MODEL_URI.match(given.strip())
    if given.startswith("models:/") and match is None:
        raise UsageError(
            "not a registered model URI this command reads",
            value=given,
            hint="write models:/<name>/<version> or models:/<name>@<alias>",
        )
    if match is None:
        return Target(given=given, run_id=given.strip())
    name, version, alias = match.group("name", "version", "alias")
    try:
        found = (
            client.get_model_version(name, version)
            if version
            else client.get_model_version_by_alias(name, alias)
        )
    except MlflowException as exc:
        raise UsageError(
            f"the model registry of {shown_uri(client)!r} has no such version ({exc.error_code})",
            value=given,
            hint="list versions with `mlflow models` or the UI's Models page; check the alias",
        ) from None
    if not found.run_id:
        raise UsageError(
            "the model version names no source run: it was not logged from an MLflow run",
            value=given,
            hint="audit the run that produced the model instead",
        )
    return Target(
        given=given,
        run_id=str(found.run_id),
        model_name=name,
        model_version=str(found.version),
        model_source=str(found.source or ""),
    )


def get_run(client: Any, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        raise UsageError(
            f"no run with this id in the tracking store {shown_uri(client)!r} ({exc.error_code})",
            run_id=run_id,
            value=run_id,
            hint="check the id (mlflow ui) or set MLFLOW_TRACKING_URI",
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_record(client: Any, run_id: str, into: Path) -> RunRecord:
    """The run, its manifest and payloads downloaded into `into`, hashes and signature checked.

    Raises UsageError only when the run does not exist; a missing or unreadable manifest is
    reported in the record (`problem`).
    """
    from mlflow.exceptions import MlflowException

    run = get_run(client, run_id)
    # Straight to the run's artifact store (MLflow's client would look the run up again for
    # every list and download).
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    into.mkdir(parents=True, exist_ok=True)
    try:
        repository = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        listed = {a.path for a in repository.list_artifacts("repro")}
        local = into / "repro"
        if MANIFEST_ARTIFACT in listed:
            local = Path(repository.download_artifacts("repro", str(into)))
    except (MlflowException, OSError) as exc:
        return RunRecord(run, None, f"its artifacts cannot be read ({exc})", None)
    if not (local / "manifest.json").is_file():
        problem = (
            f"the run has no {MANIFEST_ARTIFACT}: it was recorded without mlflow-repro "
            "(or with capture disabled)"
        )
        return RunRecord(run, None, problem, None)
    try:
        raw = (local / "manifest.json").read_bytes()
        manifest = Manifest.from_json(raw.decode("utf-8"))
    except ManifestError as exc:
        return RunRecord(run, None, f"{MANIFEST_ARTIFACT} is not a valid manifest: {exc}", None)
    except (OSError, UnicodeDecodeError) as exc:
        return RunRecord(run, None, f"{MANIFEST_ARTIFACT} cannot be read ({exc})", None)
    problems = []
    for payload in manifest.payloads():
        path = local.parent / payload.path
        if not path.is_file():
            problems.append(f"{payload.path}: listed in the manifest, not among the artifacts")
        elif (found := _sha256(path)) != payload.sha256:
            problems.append(
                f"{payload.path}: sha256 {found[:12]}..., recorded {payload.sha256[:12]}..."
            )
    signature_file = local.parent / SIGNATURE_ARTIFACT
    signature = verify(raw, signature_file.read_bytes() if signature_file.is_file() else None)
    return RunRecord(run, manifest, None, local.parent, problems, signature)


def replays_of(client: Any, run: Any) -> list[Any]:
    """Runs that replayed `run` (tagged repro.replay.of), newest first."""
    experiments = [run.info.experiment_id]
    return list(
        client.search_runs(
            experiments,
            filter_string=f"tags.`repro.replay.of` = '{run.info.run_id}'",
            order_by=["attributes.start_time DESC"],
        )
    )
