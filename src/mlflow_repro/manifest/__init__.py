"""The reproducibility manifest: one typed, versioned record per run, the only contract between
capture, replay and inspect.

Capture writes it as the artifact `repro/manifest.json` and mirrors key fields as short `repro.*`
tags; replay and inspect read it (and MLflow's run record only for what MLflow owns: metrics,
the params the job logged, model files).

- `schema.py`: the sections, frozen dataclasses.
- `codec.py`: JSON, migrations from older schema versions, type validation.
- `tags.py`: the `repro.*` tags.
- `reader.py`: the one reader of a logged manifest (hashes, signature, what is wrong with it).
"""

from __future__ import annotations

from pathlib import Path

from mlflow_repro.errors import ManifestError, UsageError
from mlflow_repro.manifest.schema import (
    MANIFEST_ARTIFACT,
    SCHEMA_VERSION,
    Code,
    Container,
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
    """Through the one reader: a manifest it found anything wrong with is a ManifestError."""
    import tempfile

    from mlflow_repro.manifest.reader import read_logged
    from mlflow_repro.store import tracking_client

    client = tracking_client(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-manifest-") as tmp:
        try:
            record = read_logged(client, run_id, Path(tmp))
        except UsageError as exc:  # no such run, or the store did not answer
            raise ManifestError(
                exc.problem, run_id=run_id, value=exc.value, hint=exc.hint
            ) from None
    if record.findings or record.manifest is None:
        first = record.findings[0]
        raise ManifestError(first.problem, run_id=run_id, hint=first.hint)
    return record.manifest


__all__ = [
    "MANIFEST_ARTIFACT",
    "SCHEMA_VERSION",
    "TAG_PREFIX",
    "Code",
    "Container",
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
