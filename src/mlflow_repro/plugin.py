"""The MLflow run-context plugin: every new run gets the manifest, with no change to user code.

MLflow instantiates `ReproRunContext` at `import mlflow` (entry point group
`mlflow.run_context_provider`). Two paths, because MLflow has no run-start hook that hands a
plugin the new run id:

- New runs (`mlflow.start_run()`): `tags()` returns the `repro.*` tags plus `repro.capture.id`,
  and wraps `MlflowClient.create_run` once. The wrapper lets MLflow create the run, and when the
  tags it was given carry this process's capture id, logs `repro/` to the new run id.
- Runs launched by `mlflow run`: the child resumes a run MLflow already created (MLFLOW_RUN_ID in
  its environment), and providers are not asked. So at import time the plugin starts one daemon
  thread that captures and logs tags and `repro/` to that run id; an atexit hook waits for it.

Nothing here may raise into MLflow: a broken plugin must not break `import mlflow`.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
import uuid
from typing import Any

try:  # automatic, recorded seeding: installs itself on import; never breaks import mlflow
    import mlflow_repro._startup  # noqa: F401
except Exception as exc:  # pragma: no cover - defensive
    print(f"mlflow-repro: automatic seeding disabled: {exc}", file=sys.stderr)

from mlflow_repro.names import (
    CAPTURE_ID_TAG,
    CAPTURED_RUN_VAR,
    DISABLE_VAR,
    REPLAY_TOKEN_TAG,
    REPLAY_TOKEN_VAR,
)

JOIN_TIMEOUT_SECONDS = 60.0

_lock = threading.Lock()
_captured: Any = None
_capture_id = uuid.uuid4().hex
_pending: list[threading.Thread] = []
_published: list[str] = []  # resumed runs whose capture was logged (their seeds are refreshed)


def enabled() -> bool:
    return os.environ.get(DISABLE_VAR, "").strip().lower() not in {"1", "true", "yes"}


def process_capture(launch: Any = None) -> Any:
    """This process's capture, made once (the first caller's launch details win)."""
    global _captured
    with _lock:
        if _captured is None:
            from mlflow_repro.capture import capture

            _captured = capture(launch=launch)
        return _captured


def _called_by_start_run() -> bool:
    """tags() is also asked for by datasets, logged models and tracing: only runs get capture."""
    frame: Any = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code.co_name == "start_run" and "mlflow" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _install_create_run_hook() -> None:
    from mlflow.tracking.client import MlflowClient

    original = MlflowClient.create_run
    if getattr(original, "_mlflow_repro_hook", False):
        return

    @functools.wraps(original)
    def create_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = original(self, *args, **kwargs)
        try:
            tags = kwargs.get("tags") if "tags" in kwargs else (args[2] if len(args) > 2 else None)
            if tags and tags.get(CAPTURE_ID_TAG) == _capture_id and _captured is not None:
                from mlflow_repro.publish import publish

                publish(self, run, _captured, with_tags=False)
        except Exception as exc:  # the run exists: never fail start_run from here
            print(f"mlflow-repro: capture for run {run.info.run_id} failed: {exc}", file=sys.stderr)
        return run

    create_run._mlflow_repro_hook = True  # type: ignore[attr-defined]
    MlflowClient.create_run = create_run  # type: ignore[method-assign]


def _capture_resumed_run(run_id: str) -> None:
    """Capture for the run `mlflow run` created, and log it there (runs in a daemon thread)."""
    try:
        from mlflow.tracking.client import MlflowClient

        from mlflow_repro.manifest import Launch
        from mlflow_repro.publish import publish

        client = MlflowClient()
        run = client.get_run(run_id)
        if "repro.manifest.version" in run.data.tags:
            return
        entry_point = run.data.tags.get("mlflow.project.entryPoint")
        # No entry point: a plain process handed a run id through MLFLOW_RUN_ID.
        launch = Launch(launcher="mlflow run" if entry_point else "python", entry_point=entry_point)
        publish(client, run, process_capture(launch), with_tags=True)
        client.set_tag(run_id, CAPTURE_ID_TAG, _capture_id)
        _published.append(run_id)
    except Exception as exc:  # the user's run goes on whatever happens here
        print(f"mlflow-repro: capture for run {run_id} failed: {exc}", file=sys.stderr)


def _refresh_seeds(run_id: str) -> None:
    """At exit: re-log the seeds section when the job seeded after `import mlflow`.

    A resumed run is captured as mlflow is imported, before the job's own code runs; a job that
    then calls `seed_everything` or `torch.manual_seed` changes the seeds in effect. The RNG
    fingerprint keeps its run-start value.
    """
    import dataclasses

    from mlflow_repro.capture.seeds import collect_seeds

    captured = _captured
    if captured is None:
        return
    old = captured.manifest.seeds
    seeds, _ = collect_seeds()
    seeds = dataclasses.replace(seeds, rng_fingerprint=old.rng_fingerprint, state=old.state)
    if seeds == old:
        return
    from mlflow.entities import RunTag
    from mlflow.tracking.client import MlflowClient

    from mlflow_repro.names import TAG_PREFIX

    manifest = dataclasses.replace(captured.manifest, seeds=seeds)
    client = MlflowClient()
    client.log_text(run_id, manifest.to_json(), "repro/manifest.json")
    tags = {k: v for k, v in manifest.tags().items() if k.startswith(TAG_PREFIX + "seed")}
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def _wait_for_pending() -> None:
    for thread in _pending:
        thread.join(JOIN_TIMEOUT_SECONDS)
    for run_id in _published:
        try:
            _refresh_seeds(run_id)
        except Exception as exc:  # never fail the user's exit
            print(f"mlflow-repro: seeds for run {run_id} not refreshed: {exc}", file=sys.stderr)


def _start_resumed_run_capture() -> None:
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id or os.environ.get(CAPTURED_RUN_VAR) == run_id or not enabled():
        return
    os.environ[CAPTURED_RUN_VAR] = run_id
    try:  # before the job draws or seeds; without it capture reads the states later
        from mlflow_repro.capture import seeds

        seeds.RUN_START_FINGERPRINT = seeds.rng_fingerprint()
    except Exception as exc:
        print(f"mlflow-repro: no run-start RNG fingerprint: {exc}", file=sys.stderr)
    thread = threading.Thread(
        target=_capture_resumed_run, args=(run_id,), daemon=True, name="mlflow-repro-capture"
    )
    if not _pending:
        # threading's own exit hooks run before interpreter shutdown starts refusing new
        # threads and executor work (artifact uploads use them) and before the atexit hook with
        # which MLflow ends the run; atexit is the fallback where that hook is missing.
        register = getattr(threading, "_register_atexit", None)
        try:
            register(_wait_for_pending) if register else atexit.register(_wait_for_pending)
        except Exception:
            atexit.register(_wait_for_pending)
    _pending.append(thread)
    thread.start()


class ReproRunContext:
    """Adds the reproducibility manifest to every new MLflow run.

    It implements MLflow's RunContextProvider interface (`in_context()`, `tags()`) without
    subclassing it: MLflow's registry only calls those two methods, and not importing mlflow
    here means importing this module before mlflow cannot make a circular import.
    """

    def __init__(self) -> None:
        try:
            _start_resumed_run_capture()
        except Exception as exc:
            print(f"mlflow-repro: capture disabled for this process: {exc}", file=sys.stderr)

    def in_context(self) -> bool:
        return enabled()

    def tags(self) -> dict[str, str]:
        try:
            if not _called_by_start_run():
                return {}
            captured = process_capture()
            _install_create_run_hook()
            tags = {**captured.manifest.tags(), CAPTURE_ID_TAG: _capture_id}
            token = os.environ.get(REPLAY_TOKEN_VAR, "").strip()
            if token:  # how replay finds the run a re-run plain script started
                tags[REPLAY_TOKEN_TAG] = token[:250]
            return tags
        except Exception as exc:  # MLflow would drop our tags silently: say why instead
            return {"repro.capture.errors": f"plugin: {type(exc).__name__}: {exc}"[:4000]}
