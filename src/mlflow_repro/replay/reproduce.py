"""`reproduce`: fetch the manifest, rebuild code, environment and data, re-run, verify."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReproError, UsageError
from mlflow_repro.manifest.schema import on_launching_side
from mlflow_repro.names import (
    DESCRIPTION_MARK,
    NOTE_TAG,
    REPLAY_DIFFERENCES_TAG,
    REPLAY_IMAGE_TAG,
    REPLAY_LATEST_RUN_TAG,
    REPLAY_LATEST_TAG,
    REPLAY_OF_TAG,
    REPLAY_VERDICT_TAG,
    REPLAY_WORKSPACE_TAG,
)
from mlflow_repro.replay.progress import Progress, output_to
from mlflow_repro.replay.result import ReplayResult
from mlflow_repro.secrets import redact_urls

RUN_NAME_TAG = "mlflow.runName"  # MLflow's: the run's name


def reproduce(
    run_id: str,
    *,
    workdir: Path | None = None,
    env_manager: str | None = None,
    backend: str | None = None,
    backend_config: dict[str, Any] | None = None,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
    register: bool = False,
    deleted: bool = False,
    failed: bool = False,
    progress: Progress | None = None,
    log: Path | None = None,
    image: str | None = None,
    rebuild_image: bool = False,
) -> ReplayResult:
    """Replay run `run_id` (a full id, or a unique prefix of 8 characters or more) from its
    manifest and compare the new run with it.

    `env_manager` and `backend` default to those the manifest records. Raises a ReproError
    (ReplayError, or UsageError for a bad argument; nothing changed: no run created, the user's
    checkout untouched) when the run cannot be rebuilt as recorded. How the run was launched
    comes from the manifest; MLflow's run record is read for what MLflow owns (metrics, params,
    model files, the experiment). The re-run registers no model version unless `register`.
    `deleted`: replay a deleted run too (refused otherwise); `failed`: a run whose own status is
    FAILED or KILLED too (refused otherwise: that would rebuild a failure).
    `log`: a file that takes the re-run's own output (environment builds, warnings, the job's
    prints) instead of this process's stdout and stderr.
    A run made in a container is replayed in that image, by id (replay/image.py): refused when
    the engine no longer holds it and it cannot be pulled by digest, unless `rebuild_image`
    (built again from its recorded inputs). `image`: replay in that image instead (a run made on
    a host too): the verdict says the platform changed.
    """
    from mlflow_repro.replay.data import restore_data
    from mlflow_repro.replay.environment import check_builds, check_environment
    from mlflow_repro.replay.image import choose_image
    from mlflow_repro.replay.launch import checked, describe, launch, plan_launch
    from mlflow_repro.replay.source import load_original
    from mlflow_repro.replay.verify import compare_runs
    from mlflow_repro.replay.workspace import build_workspace
    from mlflow_repro.store import resolve_run_id, shown_uri, tracking_client

    progress = progress or Progress(total=6)
    new_id, restored = "", []
    client = tracking_client()
    run_id = resolve_run_id(client, run_id)  # a unique prefix of 8 or more names the run too
    scratch = Path(tempfile.mkdtemp(prefix="mlflow-repro-replay-"))
    workspace = (workdir or scratch / "workspace").resolve()
    if workspace.exists():
        shutil.rmtree(scratch, ignore_errors=True)
        raise UsageError(
            "the workspace directory already exists",
            run_id=run_id,
            value=str(workspace),
            hint="pass a new directory with --workdir",
        )
    launched = False
    try:
        store = shown_uri(client)
        with progress.step("manifest", f"run {run_id} from {store}"):
            original = load_original(
                client, run_id, scratch / "original", deleted=deleted, failed=failed
            )
            manifest = original.manifest
            progress.note(
                {
                    "valid": "manifest signed by the team key: valid",
                    "unverified": "manifest signed, but no team key is configured here to check "
                    "it (MLFLOW_REPRO_SIGNING_KEY)",
                }.get(original.signature, "manifest unsigned (no team key configured)")
            )
        with progress.step("code", f"commit {manifest.code.commit} + recorded changes"):
            source = build_workspace(
                manifest.code, original.payloads, workspace, run_id, manifest.errors
            )
            progress.note(f"cloned from {redact_urls(source)} into {workspace}")
        with progress.step("environment", f"Python {manifest.environment.python_version}, lock"):
            in_image = choose_image(manifest, workspace, run_id, image=image, rebuild=rebuild_image)
            check_environment(manifest, workspace, run_id, in_image=in_image is not None)
            if in_image is not None:
                progress.note(in_image.note)
        plan = plan_launch(
            manifest,
            workspace,
            original.run.data.params,
            run_id,
            env_manager=env_manager,
            backend=backend,
            image=in_image,
        )
        plan = checked(
            plan,
            backend_config,
            run_id=run_id,
            experiment_id=str(original.run.info.experiment_id),
        )
        with progress.step("data", f"{len(manifest.data.files)} DVC-tracked files"):
            # a container run's checkout and DVC cache are its launching side's
            data = replace(
                manifest.data, dvc_root=on_launching_side(manifest, manifest.data.dvc_root)
            )
            root = on_launching_side(manifest, manifest.code.repo_root)
            restored = restore_data(data, workspace, root, run_id)
            for item in restored:
                progress.note(f"{item.path} md5 {item.md5} ({item.how})")
        if manifest.data.workspace_differs:
            progress.note(
                "warning: when the run was made, its DVC-tracked files already differed from "
                "dvc.lock (compared by size); the replay uses the data dvc.lock names, which may "
                "not be what the run read"
            )
        for note in plan.notes:
            progress.note(note)
        if in_image is None:  # in an image, the packages are the image's (checked by its id)
            check_builds(manifest, original.payloads, plan.env_manager, run_id)
        if manifest.environment.unlocked and plan.env_manager != "local":
            progress.note(
                "warning: installed beside the lock when the run was made, not in the rebuilt "
                "environment: "
                + ", ".join(f"{k}=={v}" for k, v in manifest.environment.unlocked.items())
            )
        if log is not None:
            progress.note(f"output of the re-run: {log}")
        try:
            with progress.step("run", describe(plan, manifest)), output_to(log, progress):
                launched = True
                new_id = launch(
                    plan,
                    workspace,
                    manifest,
                    original.payloads,
                    experiment_id=str(original.run.info.experiment_id),
                    backend_config=backend_config,
                    run_id=run_id,
                    register=register,
                )
        except ReproError as exc:
            if original.run.info.status in ("FAILED", "KILLED"):
                exc.problem = f"{exc.problem}; the original run {original.run.info.status} too"
            if log is not None:
                exc.hint = (f"{exc.hint}; " if exc.hint else "") + f"the re-run's output: {log}"
            raise
        with progress.step("verify", f"run {new_id} against {run_id}"):
            verdict = compare_runs(
                client, original.run, client.get_run(new_id), rel_tol=rel_tol, abs_tol=abs_tol
            )
            rerun = _rerun_manifest(client, new_id, scratch, progress)
            verdict = _with_frameworks(verdict, manifest, rerun)
            verdict = _with_image(verdict, in_image, rerun)
    finally:
        if not launched:
            shutil.rmtree(scratch, ignore_errors=True)
            if workdir is not None:
                shutil.rmtree(workspace, ignore_errors=True)
    result = ReplayResult(
        original_run_id=run_id,
        new_run_id=new_id,
        workspace=str(workspace),
        verdict=verdict,
        data=[asdict(r) for r in restored],
        durations=dict(progress.durations),
    )
    _record(client, result, manifest.code.commit)
    return result


def _rerun_manifest(client: Any, new_id: str, scratch: Path, progress: Progress) -> Any:
    """The re-run's own manifest, or None (said) when it cannot be read."""
    from mlflow_repro.manifest import Manifest
    from mlflow_repro.replay.verify import quiet_downloads

    try:
        with quiet_downloads():
            local = client.download_artifacts(new_id, "repro/manifest.json", str(scratch / "new"))
        return Manifest.from_json(Path(local).read_text("utf-8"))
    except Exception as exc:
        progress.note(f"the re-run's manifest is unreadable ({exc})")
        return None


def _with_image(verdict: Any, plan: Any, rerun: Any) -> Any:
    """The verdict, saying which image the re-run ran in, and different when the re-run's own
    manifest does not record that image id (or cannot be read to say so)."""
    from dataclasses import replace

    from mlflow_repro.replay.result import DIFFERENT

    if plan is None:
        if rerun is not None and rerun.platform.container is not None:
            return replace(verdict, image="the re-run ran in a container, the run on a host")
        return verdict
    found = None if rerun is None else rerun.platform.container
    if found is None or found.image_id != plan.image_id:
        seen = "no manifest" if rerun is None else (found.image_id if found else "no container")
        return replace(
            verdict,
            verdict=DIFFERENT,
            image=plan.note,
            differences=[
                *verdict.differences,
                f"image: the re-run should have run in {plan.image_id}; its manifest records "
                f"{seen or 'no image id'}",
            ],
        )
    return replace(verdict, image=plan.note)


def _with_frameworks(verdict: Any, manifest: Any, rerun: Any) -> Any:
    """The verdict, with the framework builds of the re-run's own manifest compared."""
    from dataclasses import replace

    from mlflow_repro.replay.result import DIFFERENT
    from mlflow_repro.replay.verify import compare_frameworks

    if not manifest.environment.frameworks:
        return verdict
    if rerun is None:
        return replace(
            verdict,
            verdict=DIFFERENT,
            differences=[
                *verdict.differences,
                "framework builds: the re-run's manifest is unreadable",
            ],
        )
    found = compare_frameworks(manifest, rerun)
    if not found:
        return verdict
    return replace(verdict, verdict=DIFFERENT, differences=[*verdict.differences, *found])


def _run_link(client: Any, run_id: str) -> str:
    """A markdown link the MLflow UI follows (its routes live after `#`)."""
    try:
        experiment = client.get_run(run_id).info.experiment_id
    except Exception:
        return f"`{run_id}`"
    from mlflow_repro.uiview import run_route

    return f"[{run_id}]({run_route(experiment, run_id)})"


def _record(client: Any, result: ReplayResult, commit: str | None) -> None:
    """The verdict on the new run (linking back to the original, named after it; the workspace
    named by the commit it was rebuilt from, its path in repro/replay.json), the latest verdict
    on the original, and the experiment's list view (`mlflow_repro.uiview`)."""
    from mlflow.entities import RunTag

    from mlflow_repro.uiview import ensure_list_view

    verdict, original, new = result.verdict, result.original_run_id, result.new_run_id
    rebuilt = f"commit {commit[:12]} + recorded changes" if commit else "recorded code"
    note = (
        f"**Replay of run {_run_link(client, original)}: {verdict.verdict}** "
        f"({verdict.metrics_compared} metrics, {verdict.params_compared} params, "
        f"{verdict.model_files_compared} model files compared)\n\n"
        + (f"Image: {verdict.image}\n\n" if verdict.image else "")
        + "".join(f"- differs: {d}\n" for d in verdict.differences[:50])
        + "".join(f"- within tolerance: {d}\n" for d in verdict.tolerated[:50])
        + "".join(f"- normalised: {d}\n" for d in verdict.normalised[:50])
        + f"\nRebuilt in a fresh clone from {rebuilt}. Why they differ: "
        f"`mlflow-repro diff {original} {new}`."
    )
    try:
        replayed = client.get_run(original)
    except Exception:
        replayed = None
    tags = {
        REPLAY_OF_TAG: original,
        REPLAY_VERDICT_TAG: verdict.verdict,
        REPLAY_DIFFERENCES_TAG: str(len(verdict.differences)),
        REPLAY_WORKSPACE_TAG: rebuilt,
        NOTE_TAG: note,
        RUN_NAME_TAG: replay_name(replayed, original),
    }
    if verdict.image:
        tags[REPLAY_IMAGE_TAG] = verdict.image
    client.log_batch(new, tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
    client.log_text(new, json.dumps(asdict(result), indent=2, sort_keys=True), "repro/replay.json")
    latest = {
        REPLAY_LATEST_TAG: verdict.verdict,
        REPLAY_LATEST_RUN_TAG: new,
    }
    described = str(replayed.data.tags.get(NOTE_TAG, "")) if replayed is not None else ""
    if described.startswith(DESCRIPTION_MARK):  # ours: add the verdict (never the user's)
        line = f"{LATEST_LINE}**{verdict.verdict}** (run {_run_link(client, new)})"
        latest[NOTE_TAG] = with_latest_line(described, line)
    client.log_batch(original, tags=[RunTag(k, v[:5000]) for k, v in latest.items()])
    if replayed is not None:
        ensure_list_view(client, str(replayed.info.experiment_id))


LATEST_LINE = "Latest replay: "
REPLAY_SUFFIX = " · replay"


def replay_name(original: Any, original_id: str) -> str:
    """A replay's run name: the name of the run it replays (its first 8 id characters when the
    run has none), then " · replay"."""
    name = ""
    if original is not None:
        name = str(original.info.run_name or original.data.tags.get(RUN_NAME_TAG) or "")
    return f"{name or original_id[:8]}{REPLAY_SUFFIX}"


def with_latest_line(described: str, line: str) -> str:
    """Our description with `line` (the latest replay) as its second paragraph, right under the
    status headline, where the run page shows it before "Show more"; an earlier latest line
    (there, or at the end where replays put it before) is dropped."""
    paragraphs = [p for p in described.split("\n\n") if not p.startswith(LATEST_LINE)]
    return "\n\n".join([*paragraphs[:1], line, *paragraphs[1:]])
