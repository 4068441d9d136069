"""Log a run's manifest, with the process's staged payloads and the `repro.*` tags, to MLflow."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import MANIFEST_ARTIFACT, Manifest
from mlflow_repro.names import CAPTURE_ERRORS_TAG, NOTE_TAG

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


def run_description(manifest: Manifest, run_id: str) -> str:
    """The short description (markdown) a person reads first on the run page."""
    from mlflow_repro.manifest.status import status

    word, reasons = status(manifest)
    code, env, seeds = manifest.code, manifest.environment, manifest.seeds
    commit = f"`{code.commit[:12]}`" if code.commit else "none"
    where = (code.branch or ("detached" if code.detached else "?"))[:100]
    state = "clean" if code.dirty is False else "with recorded changes" if code.dirty else "?"
    lines = [
        f"**mlflow-repro: {word}**" + (f": {'; '.join(reasons)[:1000]}" if reasons else ""),
        "",
        f"Rebuild and verify: `mlflow-repro reproduce {run_id}`; check it now: "
        f"`mlflow-repro audit {run_id}`.",
        "",
        f"- code: commit {commit} ({where}), {state}",
        f"- environment: Python {env.python_version}, {env.requirement_count} packages "
        f"({env.lock_source}, {env.lock_strength})",
        f"- data: {len(manifest.data.files)} DVC-tracked files",
        f"- seed: {seeds.seed if seeds.seed is not None else 'none'} ({seeds.source})",
        "- everything recorded: artifact `repro/manifest.json`",
    ]
    return "\n".join(lines)


def manifest_documents(manifest: Manifest) -> tuple[dict[str, bytes], str | None]:
    """The files that carry `manifest` under `repro/`: `manifest.json` and, with a team key
    configured, `manifest.sig`; and the reason signing failed, if it did (a capture error:
    the run goes on unsigned)."""
    from mlflow_repro.signing import SIGNATURE_ARTIFACT, sign

    text = manifest.to_json().encode("utf-8")
    documents = {MANIFEST_ARTIFACT.rsplit("/", 1)[1]: text}
    try:
        signature = sign(text)
    except Exception as exc:
        return documents, f"signing: {exc}"
    if signature is not None:
        documents[SIGNATURE_ARTIFACT.rsplit("/", 1)[1]] = signature
    return documents, None


def log_manifest(log: Callable[[str], None], client: Any, run_id: str, manifest: Manifest) -> None:
    """Write `manifest`'s documents (`manifest_documents`) to a temporary folder and hand each
    file's path to `log` (which uploads it under `repro/`); a signing failure is recorded on the
    run. Upload errors propagate to the caller."""
    documents, signing_error = manifest_documents(manifest)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-manifest-") as tmp:
        for name, data in documents.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            log(str(path))
    if signing_error:
        record_error(client, run_id, manifest, signing_error)


def record_error(client: Any, run_id: str, manifest: Manifest, note: str) -> None:
    """Add `note` to the run's `repro.capture.errors` tag (never raises)."""
    previous = manifest.tags().get(CAPTURE_ERRORS_TAG)
    errors = within_limits({CAPTURE_ERRORS_TAG: f"{previous}; {note}" if previous else note})
    with contextlib.suppress(Exception):
        client.set_tag(run_id, CAPTURE_ERRORS_TAG, errors[CAPTURE_ERRORS_TAG])


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
        from mlflow.entities import RunTag

        tags = within_limits(manifest.tags()) if with_tags else {}
        existing = getattr(getattr(run, "data", None), "tags", None) or {}
        if NOTE_TAG not in existing:  # never over a description the user wrote
            tags[NOTE_TAG] = run_description(manifest, run_id)
        if tags:
            tags = within_limits(tags)
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repository: Any = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        folder = MANIFEST_ARTIFACT.rsplit("/", 1)[0]
        if manifest.payloads():
            repository.log_artifacts(str(captured.staging.root), artifact_path=folder)
        log_manifest(
            lambda path: repository.log_artifact(path, artifact_path=folder),
            client,
            run_id,
            manifest,
        )
    except Exception as exc:
        record_error(client, run_id, manifest, f"publish: {type(exc).__name__}: {exc}")
