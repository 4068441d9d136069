"""Log a run's manifest, with the process's staged payloads and the `repro.*` tags, to MLflow."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import MANIFEST_ARTIFACT, Manifest
from mlflow_repro.names import CAPTURE_ERRORS_TAG, DESCRIPTION_MARK, NOTE_TAG, STATUS_TAG

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
        f"{DESCRIPTION_MARK}{word}**" + (f": {'; '.join(reasons)[:1000]}" if reasons else ""),
        "",
        f"Rebuild and verify: `mlflow-repro reproduce {run_id}`; check it now: "
        f"`mlflow-repro audit {run_id}`.",
        "",
        f"- code: commit {commit} ({where}), {state}",
        f"- environment: Python {env.python_version}, {env.requirement_count} packages "
        f"({env.lock_source}, {env.lock_strength})",
        f"- data: {len(manifest.data.files)} DVC-tracked files",
        f"- seed: {seeds.seed if seeds.seed is not None else 'none'} ({seeds.source})",
    ]
    container = manifest.platform.container
    if container is not None and container.image_id:
        shown = container.repo_digest and container.repo_digest != container.image
        digest = f", `{container.repo_digest}`" if shown else ""
        lines.append(f"- image: `{container.image[:200]}`, id `{container.image_id}`{digest[:300]}")
    elif container is not None:
        lines.append("- image: a container no launcher named (recorded as a host)")
    lines.append("- everything recorded: artifact `repro/manifest.json`")
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
    errors = within_limits({CAPTURE_ERRORS_TAG: _errors_with(manifest, note)})
    with contextlib.suppress(Exception):
        client.set_tag(run_id, CAPTURE_ERRORS_TAG, errors[CAPTURE_ERRORS_TAG])


def _errors_with(manifest: Manifest, note: str) -> str:
    previous = manifest.tags().get(CAPTURE_ERRORS_TAG)
    return f"{previous}; {note}" if previous else note


def lost_files(manifest: Manifest) -> str:
    """What a failed upload left out of the run, for the message: `repro/` and its files."""
    names = [payload.path for payload in manifest.payloads()] + [MANIFEST_ARTIFACT]
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f"repro/ ({shown})"


UPLOAD_THREADS = 4


def _log_files_at_once(repository: Any, roots: list[Path], folder: str) -> None:
    """Every file under `roots` to `folder/<its relative path>`, up to UPLOAD_THREADS at a time:
    artifact stores take one request per file (MLflow's `log_artifacts` sends them one after
    another), and against a busy server each waits its turn. The first failure is raised once
    all are done."""
    from concurrent.futures import ThreadPoolExecutor

    files = sorted((p, root) for root in roots for p in root.rglob("*") if p.is_file())
    with ThreadPoolExecutor(min(UPLOAD_THREADS, len(files) or 1)) as pool:
        done = [
            pool.submit(
                repository.log_artifact,
                str(path),
                "/".join((folder, *path.relative_to(root).parent.parts)),
            )
            for path, root in files
        ]
    for future in done:
        future.result()


def _upload(client: Any, run: Any, captured: Captured, manifest: Manifest) -> None:
    """The payloads first, the manifest last: a run holds `repro/manifest.json` only when every
    file it names was logged before it."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repository: Any = get_artifact_repository(
        run.info.artifact_uri, tracking_uri=client.tracking_uri
    )
    folder = MANIFEST_ARTIFACT.rsplit("/", 1)[0]
    if manifest.payloads():
        _log_files_at_once(repository, captured.payload_roots(), folder)
    log_manifest(
        lambda path: repository.log_artifact(path, artifact_path=folder),
        client,
        run.info.run_id,
        manifest,
    )


def publish(
    client: Any,
    run: Any,
    captured: Captured,
    manifest: Manifest,
    *,
    with_tags: bool = False,
    attempt: str = "",
) -> bool:
    """Upload `repro/` to the run: the staged payloads, shared by every run of the process, and
    `manifest`, this run's own (`Captured.for_run`); then the tags that claim it: `repro.status`
    (with every `repro.*` tag when `with_tags`, else they came with the run) and the run
    description. Returns whether `repro/` was logged. `attempt` qualifies the messages (a retry).

    `run` is the Run object MLflow returned: its artifact URI spares the store a lookup (the
    largest part of the cost for runs after the first in a process). Nothing is raised. When the
    upload fails, what was lost is printed, and the run is marked `repro.status = incomplete`
    with the reason in `repro.capture.errors` (printed too when even that cannot be written):
    no run claims a manifest it does not hold.
    """
    run_id = run.info.run_id
    try:
        _upload(client, run, captured, manifest)
    except Exception as exc:
        reason = f"publish: {type(exc).__name__}: {exc}"
        print(
            f"mlflow-repro: {lost_files(manifest)} not logged to run {run_id}{attempt}: "
            f"{type(exc).__name__}: {str(exc)[:500]} (the run is tagged repro.status = "
            "incomplete with this reason; the training goes on)",
            file=sys.stderr,
        )
        mark_incomplete(client, run, manifest, reason)
        return False
    tags = (
        within_limits(manifest.tags()) if with_tags else {STATUS_TAG: manifest.tags()[STATUS_TAG]}
    )
    try:
        _claim(client, run, manifest, tags)
    except Exception as exc:
        print(
            f"mlflow-repro: repro/ was logged to run {run_id}, but not its tags "
            f"({', '.join(sorted(tags))}): {type(exc).__name__}: {str(exc)[:500]}",
            file=sys.stderr,
        )
        record_error(client, run_id, manifest, f"publish: tags: {type(exc).__name__}: {exc}")
    return True


def _claim(client: Any, run: Any, manifest: Manifest, tags: dict[str, str]) -> None:
    """Log `tags` and, unless the user wrote one, the run description: what claims the record."""
    from mlflow.entities import RunTag

    if _may_describe(run):
        tags = {**tags, NOTE_TAG: run_description(manifest, run.info.run_id)}
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in within_limits(tags).items()])


def _may_describe(run: Any) -> bool:
    """Never over a description the user wrote; ours (a failed upload's) may be replaced."""
    existing = getattr(getattr(run, "data", None), "tags", None) or {}
    return NOTE_TAG not in existing or str(existing[NOTE_TAG]).startswith(DESCRIPTION_MARK)


def mark_incomplete(client: Any, run: Any, manifest: Manifest, note: str) -> None:
    """`repro.status = incomplete`, `note` added to `repro.capture.errors`, and a description
    saying so (unless the user wrote one); printed when the tracking store refuses even that
    (never raises)."""
    from mlflow.entities import RunTag

    run_id = run.info.run_id
    tags = {STATUS_TAG: "incomplete", CAPTURE_ERRORS_TAG: _errors_with(manifest, note)}
    if _may_describe(run):
        tags[NOTE_TAG] = (
            f"{DESCRIPTION_MARK}incomplete**: `repro/` could not be logged to this run, so it "
            "holds no manifest and cannot be replayed. The run itself is as the training left "
            "it; the upload was tried again as the process exited.\n\n"
            f"Why: {note[:500]}"
        )
    tags = within_limits(tags)
    try:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    except Exception as exc:
        print(
            f"mlflow-repro: run {run_id} could not be marked incomplete either: "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            file=sys.stderr,
        )


def amend(client: Any, run_id: str, manifest: Manifest, payloads: Path | None = None) -> bool:
    """At a run's end: log `manifest` again (what the run read that its record cannot rebuild,
    and a notebook's cells run since it started, are known only then), the files under
    `payloads` first, then its status, tags and description; printed, never raised."""
    try:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        folder = MANIFEST_ARTIFACT.rsplit("/", 1)[0]
        run = client.get_run(run_id)
        repository: Any = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=client.tracking_uri
        )
        if payloads is not None:
            _log_files_at_once(repository, [payloads], folder)
        log_manifest(
            lambda path: repository.log_artifact(path, artifact_path=folder),
            client,
            run_id,
            manifest,
        )
        _claim(client, run, manifest, manifest.tags())
    except Exception as exc:
        print(
            f"mlflow-repro: the record of run {run_id} could not be amended at its end: "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            file=sys.stderr,
        )
        return False
    ignored = [o.path for o in manifest.code.omitted if o.reason == "ignored-input"]
    if ignored:
        shown = ", ".join(ignored[:5]) + (
            f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
        )
        print(
            f"mlflow-repro: run {run_id} read files git ignores and DVC does not track "
            f"({shown}): its record cannot rebuild them, so it is marked incomplete; commit "
            "them, track them with DVC, or pass their content as parameters",
            file=sys.stderr,
        )
    return True
