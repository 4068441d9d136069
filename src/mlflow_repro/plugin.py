"""The MLflow run-context plugin: every new run gets the manifest, with no change to user code.

MLflow instantiates `ReproRunContext` at `import mlflow` (entry point group
`mlflow.run_context_provider`). Two paths, because MLflow has no run-start hook that hands a
plugin the new run id:

- New runs (`mlflow.start_run()`): `tags()` returns the `repro.*` tags plus `repro.capture.id`,
  and wraps `MlflowClient.create_run` once. The wrapper lets MLflow create the run, and when the
  tags it was given carry this process's capture id, logs `repro/` to the new run id, then sets
  `repro.status`; an upload that fails is tried again as the process exits (`later.py`).
- Runs launched by `mlflow run`: the child resumes a run MLflow already created (MLFLOW_RUN_ID in
  its environment), and providers are not asked: `resumed.py` captures for that run.

This process's capture, its id and its run count live in `session.py`.

Nothing here may raise into MLflow: a broken plugin must not break `import mlflow`.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

try:  # automatic, recorded seeding: installs itself on import; never breaks import mlflow
    import mlflow_repro._startup  # noqa: F401
except Exception as exc:  # pragma: no cover - defensive
    print(f"mlflow-repro: automatic seeding disabled: {exc}", file=sys.stderr)

from mlflow_repro import session
from mlflow_repro.names import (
    CAPTURE_ERRORS_TAG,
    CAPTURE_ID_TAG,
    REPLAY_TOKEN_TAG,
    REPLAY_TOKEN_VAR,
    STATUS_TAG,
)


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
            captured = session.captured()
            if tags and tags.get(CAPTURE_ID_TAG) == session.CAPTURE_ID and captured is not None:
                from mlflow_repro.manifest import Launch
                from mlflow_repro.publish import publish

                launch = Launch(launcher="python", run_index=session.next_run_index())
                manifest = captured.for_run(launch)
                if not publish(self, run, captured, manifest):
                    from mlflow_repro.later import retry_at_exit

                    retry_at_exit(self, run, captured, manifest, with_tags=False)
        except Exception as exc:  # the run exists: never fail start_run from here
            print(f"mlflow-repro: capture for run {run.info.run_id} failed: {exc}", file=sys.stderr)
        return run

    create_run._mlflow_repro_hook = True  # type: ignore[attr-defined]
    MlflowClient.create_run = create_run


class ReproRunContext:
    """Adds the reproducibility manifest to every new MLflow run.

    It implements MLflow's RunContextProvider interface (`in_context()`, `tags()`) without
    subclassing it: MLflow's registry only calls those two methods, and not importing mlflow
    here means importing this module before mlflow cannot make a circular import.
    """

    def __init__(self) -> None:
        from mlflow_repro import launchguard, replayguard

        replayguard.install()  # only in a process replay started
        launchguard.install()  # only in a process running `mlflow run`
        try:
            if os.environ.get("MLFLOW_RUN_ID"):
                from mlflow_repro import resumed

                resumed.start()
        except Exception as exc:
            print(f"mlflow-repro: capture disabled for this process: {exc}", file=sys.stderr)

    def in_context(self) -> bool:
        return session.enabled()

    def tags(self) -> dict[str, str]:
        try:
            if not _called_by_start_run():
                return {}
            captured = session.process_capture()
            _install_create_run_hook()
            from mlflow_repro.publish import within_limits

            # every repro.* tag but the status, which publish sets once repro/ is logged
            tags = {**captured.manifest.tags(), CAPTURE_ID_TAG: session.CAPTURE_ID}
            del tags[STATUS_TAG]
            token = os.environ.get(REPLAY_TOKEN_VAR, "").strip()
            if token:  # how replay finds the run a re-run plain script started
                tags[REPLAY_TOKEN_TAG] = token
            return within_limits(tags)
        except Exception as exc:  # MLflow would drop our tags silently: say why instead
            return {CAPTURE_ERRORS_TAG: f"plugin: {type(exc).__name__}: {exc}"[:4000]}
