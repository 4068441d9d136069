"""The reproducibility manifest: one typed, versioned record per run, the only contract between
capture, replay and inspect.

Capture writes it as the artifact `repro/manifest.json` and mirrors key fields as short `repro.*`
tags; replay and inspect read it (and MLflow's run record only for what MLflow owns: metrics,
the params the job logged, model files).

- `schema.py`: the sections, frozen dataclasses.
- `codec.py`: JSON, migrations from older schema versions, type validation.
- `tags.py`: the `repro.*` tags.
"""

from __future__ import annotations

from pathlib import Path

from mlflow_repro.errors import ManifestError
from mlflow_repro.manifest.schema import (
    MANIFEST_ARTIFACT,
    SCHEMA_VERSION,
    Code,
    Data,
    DataFile,
    Drift,
    Environment,
    FrameworkBuild,
    Gpu,
    GpuDevice,
    InstalledWheel,
    Launch,
    Manifest,
    Omitted,
    Payload,
    Platform,
    SeedCall,
    Seeds,
    UntrackedFile,
)
from mlflow_repro.names import TAG_PREFIX


def load_manifest(source: str | Path, *, tracking_uri: str | None = None) -> Manifest:
    """The manifest of an MLflow run (its id) or in a file (a path to `manifest.json`, or a
    directory holding it or `repro/manifest.json`).

    Older schema versions are migrated; a run without a manifest, an unreadable file or a field
    of the wrong type is a ManifestError that says which.
    """
    path = Path(source)
    if isinstance(source, Path) or path.exists() or str(source).endswith(".json"):
        for candidate in (path, path / "manifest.json", path / MANIFEST_ARTIFACT):
            if candidate.is_file():
                try:
                    return Manifest.from_json(candidate.read_text("utf-8"))
                except ManifestError as exc:
                    exc.value = str(candidate)
                    raise
                except (OSError, UnicodeDecodeError) as exc:
                    raise ManifestError(f"cannot read {candidate}: {exc}") from None
        raise ManifestError(
            "no manifest found there",
            value=str(source),
            hint="pass a manifest.json, a folder holding one, or a run id",
        )
    return _load_from_run(str(source), tracking_uri)


def _load_from_run(run_id: str, tracking_uri: str | None) -> Manifest:
    import tempfile

    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException as exc:
        raise ManifestError(
            f"no run with this id in the tracking store {_shown_uri(client)} ({exc.error_code})",
            run_id=run_id,
            hint="check the id (mlflow ui) or set MLFLOW_TRACKING_URI",
        ) from None
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-manifest-") as tmp:
        try:
            local = client.download_artifacts(run_id, MANIFEST_ARTIFACT, tmp)
        except (MlflowException, OSError):
            raise ManifestError(
                f"the run has no {MANIFEST_ARTIFACT}",
                run_id=run_id,
                hint="it was not recorded with mlflow-repro installed (or capture was disabled)",
            ) from None
        try:
            return Manifest.from_json(Path(local).read_text("utf-8"))
        except ManifestError as exc:
            exc.run_id = run_id
            raise


def _shown_uri(client: object) -> str:
    from mlflow_repro.secrets import strip_url_credentials

    return repr(strip_url_credentials(str(getattr(client, "tracking_uri", ""))))


__all__ = [
    "MANIFEST_ARTIFACT",
    "SCHEMA_VERSION",
    "TAG_PREFIX",
    "Code",
    "Data",
    "DataFile",
    "Drift",
    "Environment",
    "FrameworkBuild",
    "Gpu",
    "GpuDevice",
    "InstalledWheel",
    "Launch",
    "Manifest",
    "ManifestError",
    "Omitted",
    "Payload",
    "Platform",
    "SeedCall",
    "Seeds",
    "UntrackedFile",
    "load_manifest",
]
