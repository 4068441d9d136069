"""The two MlflowClient methods the plugin watches, and how it tells a new run from the rest.

- `MlflowClient.create_run` hands a run created with our capture id to the job its `tags()`
  started (`runjob.py`), and starts one for a raw `MlflowClient().create_run()` from user code
  (no provider is asked then).
- `MlflowClient.set_terminated` (what `end_run` and the loggers call) waits for the record of
  the run it ends.

Installed once, as soon as `mlflow.tracking.client` is complete (`importhook.when_ready`).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from mlflow_repro.names import CAPTURE_ID_TAG, CAPTURE_SWITCH_TAG
from mlflow_repro.plugin.state import process


def _mlflow_directory() -> str:
    import mlflow

    return os.path.dirname(os.path.abspath(str(mlflow.__file__))) + os.sep


def asked_for_a_new_run() -> bool:
    """tags() is also asked for by datasets, logged models and tracing: only new runs get
    capture. A new run: `mlflow.start_run` (fluent; nested runs too), or `resolve_tags` called
    from outside MLflow, as PyTorch Lightning's `MLFlowLogger` and user code do before
    `MlflowClient.create_run` (MLflow's own `resolve_tags` callers are the others)."""
    frame: Any = sys._getframe(2)
    inside = _mlflow_directory()
    if frame is None or frame.f_code.co_name != "resolve_tags":
        return False  # asked directly, not through MLflow's registry
    while frame is not None and frame.f_code.co_name == "resolve_tags":
        frame = frame.f_back
    if frame is None:
        return False
    name, where = frame.f_code.co_name, frame.f_code.co_filename
    return (name == "start_run") if where.startswith(inside) else True


def _called_by_the_user(frame: Any) -> bool:
    """A frame outside MLflow and outside mlflow-repro: `MlflowClient().create_run()` called by
    the user's own code (MLflow's callers, `mlflow run`'s parent and fluent start_run, are
    not: a run `mlflow run` creates is captured by its job)."""
    where = frame.f_code.co_filename if frame is not None else ""
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    return bool(where) and not where.startswith((_mlflow_directory(), own))


def client_loaded() -> bool:
    return hasattr(sys.modules.get("mlflow.tracking.client"), "MlflowClient")


def install_if_loaded() -> None:
    """The hooks, as soon as MlflowClient exists: a raw `MlflowClient().create_run()` asks no
    provider, and Lightning's `client.create_run(tags=resolve_tags())` looks the method up
    before it resolves the tags, so both must find them in place before the first run. MLflow
    loads the plugin while `mlflow.tracking.client` is still half loaded: they are installed at
    the first import after it completes (`importhook.when_ready`)."""
    if client_loaded():
        try:
            install()
        except Exception as exc:
            print(f"mlflow-repro: create_run not watched: {exc}", file=sys.stderr)


def install() -> None:
    """`MlflowClient.create_run` hands a run created with our capture id to its job;
    `MlflowClient.set_terminated` (what `end_run` and the loggers call) waits for the record
    of the run it ends. Installed once."""
    from mlflow.tracking.client import MlflowClient

    original = MlflowClient.create_run
    if getattr(original, "_mlflow_repro_hook", False):
        return
    terminate = MlflowClient.set_terminated

    @functools.wraps(original)
    def create_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)
        run = original(self, *args, **kwargs)
        try:
            tags = kwargs.get("tags") if "tags" in kwargs else (args[2] if len(args) > 2 else None)
            tags = tags or {}
            state = process()
            ours = tags.get(CAPTURE_ID_TAG) == state.capture_id
            if ours or (
                _called_by_the_user(caller)
                and str(tags.get(CAPTURE_SWITCH_TAG, "")).lower() != "off"
                and state.enabled()
            ):
                from mlflow_repro.plugin import runjob

                if not ours:  # a raw create_run: no provider was asked, the job starts now
                    runjob.begin()
                runjob.created(self, run)
        except Exception as exc:  # the run exists: never fail start_run from here
            print(f"mlflow-repro: capture for run {run.info.run_id} failed: {exc}", file=sys.stderr)
        return run

    @functools.wraps(terminate)
    def set_terminated(self: Any, run_id: str, *args: Any, **kwargs: Any) -> Any:
        try:
            from mlflow_repro.plugin import runjob

            runjob.ending(run_id)
        except Exception as exc:  # ending the run goes on
            print(f"mlflow-repro: run {run_id}: {exc}", file=sys.stderr)
        return terminate(self, run_id, *args, **kwargs)

    create_run._mlflow_repro_hook = True  # type: ignore[attr-defined]
    MlflowClient.create_run = create_run
    MlflowClient.set_terminated = set_terminated
