"""Capture for runs launched by `mlflow run`: the child resumes a run MLflow already created.

MLflow asks no provider for tags when a run is resumed (MLFLOW_RUN_ID), so as the plugin is
instantiated at `import mlflow` one daemon thread captures and logs tags and `repro/` to that
run. It is joined from threading's exit hook, after which the seeds section is refreshed when
the job seeded after `import mlflow`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_repro.names import CAPTURE_ID_TAG, CAPTURED_RUN_VAR, STATUS_TAG, TAG_PREFIX
from mlflow_repro.plugin.state import process

if TYPE_CHECKING:
    from mlflow_repro.manifest import Manifest

JOIN_TIMEOUT_SECONDS = 60.0


def _capture(run_id: str, run_index: int) -> None:
    """Capture for the run `mlflow run` created, and log it there (in a daemon thread)."""
    try:
        from mlflow.tracking.client import MlflowClient

        from mlflow_repro.capture import source_directory
        from mlflow_repro.capture.code import repository_root
        from mlflow_repro.capture.launch import project_launch
        from mlflow_repro.plugin.publish import publish

        client = MlflowClient()
        run = client.get_run(run_id)  # first: the job may log params of its own meanwhile
        if STATUS_TAG in run.data.tags:  # captured already (a manifest claimed)
            return
        top = repository_root(source_directory())
        projects = [Path.cwd(), *([top] if top else [])]
        launch = project_launch(run.data.tags, run.data.params, projects)
        state = process()
        captured = state.process_capture()
        manifest = captured.for_run(dataclasses.replace(launch, run_index=run_index))
        client.set_tag(run_id, CAPTURE_ID_TAG, state.capture_id)
        if publish(client, run, captured, manifest, with_tags=True):
            state.resumed_published[run_id] = manifest
        else:
            from mlflow_repro.plugin.later import retry_at_exit

            retry_at_exit(client, run, captured, manifest, with_tags=True)
    except Exception as exc:  # the user's run goes on whatever happens here
        print(f"mlflow-repro: capture for run {run_id} failed: {exc}", file=sys.stderr)


def _refresh_seeds(run_id: str, manifest: Manifest) -> Manifest:
    """At exit: re-log the manifest when the job seeded after `import mlflow`, or loaded BLAS
    libraries capture did not see.

    A resumed run is captured as mlflow is imported, before the job's own code runs; a job that
    then calls `seed_everything` or `torch.manual_seed` changes the seeds in effect. The RNG
    fingerprint and the recorded states keep their run-start values. The BLAS libraries are those
    loaded when capture looked, and capture runs beside the job's own imports (scipy's OpenBLAS
    may or may not be loaded yet: CI saw two runs of one commit differ so): at exit, every one
    the job used is loaded, the same in every run.
    """
    from mlflow_repro.capture.platform import loaded_blas
    from mlflow_repro.capture.seeds import collect_seeds

    old = manifest.seeds
    seeds, _ = collect_seeds(None, process().ledger)
    seeds = dataclasses.replace(seeds, rng_fingerprint=old.rng_fingerprint, state=old.state)
    blas = loaded_blas()
    if seeds == old and blas == manifest.platform.blas:
        return manifest
    platform = dataclasses.replace(manifest.platform, blas=blas)
    from mlflow.entities import RunTag
    from mlflow.tracking.client import MlflowClient

    from mlflow_repro.manifest import MANIFEST_ARTIFACT
    from mlflow_repro.plugin.publish import log_manifest, within_limits

    manifest = dataclasses.replace(manifest, seeds=seeds, platform=platform)
    client = MlflowClient()
    folder = MANIFEST_ARTIFACT.rsplit("/", 1)[0]
    log_manifest(lambda path: client.log_artifact(run_id, path, folder), client, run_id, manifest)
    tags = within_limits(manifest.tags())
    seed_tags = [RunTag(k, v) for k, v in tags.items() if k.startswith(TAG_PREFIX + "seed")]
    client.log_batch(run_id, tags=seed_tags)
    return manifest


def _wait_for_pending() -> None:
    state = process()
    for thread in state.resumed_threads:
        thread.join(JOIN_TIMEOUT_SECONDS)
    for run_id, manifest in list(state.resumed_published.items()):
        try:
            manifest = _refresh_seeds(run_id, manifest)
        except Exception as exc:  # never fail the user's exit
            print(f"mlflow-repro: seeds for run {run_id} not refreshed: {exc}", file=sys.stderr)
        try:  # the files the job read that the record cannot rebuild: known only now
            from mlflow.tracking.client import MlflowClient

            from mlflow_repro.plugin.inputs import with_ignored_inputs
            from mlflow_repro.plugin.publish import amend

            amended = with_ignored_inputs(manifest)
            if amended is not None:
                amend(MlflowClient(), run_id, amended)
        except Exception as exc:
            print(f"mlflow-repro: run {run_id}: inputs not checked: {exc}", file=sys.stderr)
        from mlflow.tracking.client import MlflowClient

        from mlflow_repro.modelsign import sign_run

        sign_run(MlflowClient(), run_id)  # with a team key: its models, over the final manifest


def _mark_run_start() -> None:
    """The RNG fingerprint now, before the job draws or seeds (the capture thread comes later)."""
    from mlflow_repro.rng.generators import rng_fingerprint

    process().ledger.mark_run_start(rng_fingerprint())


def start() -> None:
    """Start capturing for the run in MLFLOW_RUN_ID, once per run across child processes."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    state = process()
    if not run_id or os.environ.get(CAPTURED_RUN_VAR) == run_id or not state.enabled():
        return
    os.environ[CAPTURED_RUN_VAR] = run_id
    run_index = state.next_run_index()
    try:
        _mark_run_start()
    except Exception as exc:
        print(f"mlflow-repro: no run-start RNG fingerprint: {exc}", file=sys.stderr)
    thread = threading.Thread(
        target=_capture, args=(run_id, run_index), daemon=True, name="mlflow-repro-capture"
    )
    if not state.resumed_threads:
        from mlflow_repro.plugin.later import at_exit

        at_exit(_wait_for_pending)
    state.resumed_threads.append(thread)
    thread.start()
